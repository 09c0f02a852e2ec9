# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""Do the tests notice a broken filter? Apply single mutations, run the
tests that should catch each, count the mutants they kill.

Each mutant is one small change to the package (a guard narrowed, a
condition dropped, a rule that never blocks), applied to the source file
in place and always put back. The matching tests run in a fresh
interpreter (``python -m testtools.run``, bytecode not written, so no
mutated .pyc outlives the mutant); a mutant is killed when they fail.
Before the mutants, each test selection runs once unmutated and must
pass, so that a kill means the mutation and not a broken tree.

The mutants: the code review's (M2 verdict cache key, M3 and M7 exact
TSC, M4 vendor case, M13 and M14 the filter's and weigher's error
guards, M15 the task_state check, W1 a weigher that weighs nothing, D1
the drain order), the request path's newer promises (fail closed without
rules, the source's share of the budget, the acceptance table, similarity
ignoring per-host fields), and one per rule class: a rule that never
blocks. The rule classes are read from setup.cfg, so a new rule gets its
mutant without an edit here.

Stdlib only; run on demand from the source tree, in the tox env::

    .tox/py3/bin/python tools/mutation_check.py [--list] [--only ID ...]

Prints one line per mutant and ``killed K / N`` last; exits 0 when every
mutant is killed (a functional mutant takes about a minute: nova's
harness).
"""

import argparse
import configparser
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKG = 'migcompat_filter/'

SCHED_FILTER = 'tests.unit.test_scheduler_filter'
EXACT_TSC = 'tests.unit.test_scheduler_exact_tsc'
RULES = ('tests.unit.test_rules', 'tests.unit.test_rules_guest')


class Mutant(object):
    """One change: replace old (exactly once in path) by new, or, with
    old=None, append new to the module.
    """

    def __init__(self, ident, path, old, new, tests, what):
        self.ident = ident
        self.path = path
        self.old = old
        self.new = new
        self.tests = tuple(tests)
        self.what = what

    def mutate(self, text):
        if self.old is None:
            return text + self.new
        found = text.count(self.old)
        if found != 1:
            raise LookupError('%s: the mutation site is in %s %d times, '
                              'not once: %r' % (self.ident, self.path,
                                                found, self.old))
        return text.replace(self.old, self.new)


def _review_mutants():
    return [
        Mutant('M2', PKG + 'scheduler/migration_filter.py',
               '(self.guest_key, hp.key, self.policy_key)',
               '(self.source_key, hp.key, self.policy_key)',
               [SCHED_FILTER], 'verdict cache key without the guest'),
        Mutant('M3', PKG + 'scheduler/per_host.py',
               "(tsc.get('scaling') is True or\n"
               "                                      'frequency' in tsc)",
               "tsc.get('scaling') is True",
               [EXACT_TSC], 'a profile with its own TSC frequency is '
               'not exact'),
        Mutant('M4', PKG + 'rules/cpu.py',
               'if str(src).lower() != str(dst).lower():',
               'if str(src) != str(dst):',
               RULES, 'CPU vendor compared case-sensitively'),
        Mutant('M7', PKG + 'scheduler/per_host.py',
               "    return 'invtsc' in guest.given() and "
               "guest.invtsc_unpinned is None",
               '    return False',
               [EXACT_TSC], 'invtsc from nova, nothing pinned: no exact '
               'TSC'),
        Mutant('M13', PKG + 'scheduler/migration_filter.py',
               '        except Exception:\n'
               '            # Never break scheduling',
               '        except ZeroDivisionError:\n'
               '            # Never break scheduling',
               [SCHED_FILTER], "filter_all's guard narrowed"),
        Mutant('M14', PKG + 'scheduler/weigher.py',
               '        except Exception:\n'
               "            LOG.exception('migcompat: weighing failed",
               '        except ZeroDivisionError:\n'
               "            LOG.exception('migcompat: weighing failed",
               [SCHED_FILTER], "the weigher's guard narrowed"),
        Mutant('M15', PKG + 'scheduler/instances.py',
               '        if instance.task_state != task_states.MIGRATING:',
               '        if False:',
               ['tests.functional.test_nova_filter.'
                'HostModelLiveMigrationTest.'
                'test_boot_and_cold_migration_are_not_filtered'],
               'task_state check removed (every move judged)'),
        Mutant('W1', PKG + 'scheduler/weigher.py',
               '            return self._similarities(judgement, '
               'weighed_obj_list, share)',
               '            return zeros',
               ['tests.functional.test_nova_weigher.'
                'DefaultMultiplierDecidesTest.test_the_identical_host_wins'],
               'the weigher weighs every host 0'),
        Mutant('D1', PKG + 'fleet/drain.py',
               'order = sorted(server_plans, key=lambda sp: '
               '(len(sp.targets),',
               'order = sorted(server_plans, key=lambda sp: '
               '(-len(sp.targets),',
               ['tests.unit.test_drain'],
               'drain: the least constrained server placed first'),
    ]


def _request_path_mutants():
    return [
        Mutant('F1', PKG + 'scheduler/migration_filter.py',
               "                      migration.instance_uuid)\n"
               "            return []",
               "                      migration.instance_uuid)\n"
               "            return hosts",
               [SCHED_FILTER], 'no rules installed: every host passes'),
        Mutant('F2', PKG + 'scheduler/migration_filter.py',
               'SOURCE_READ_SHARE = 0.5', 'SOURCE_READ_SHARE = 0.0',
               [SCHED_FILTER], 'the first-read wait may spend the whole '
               'budget'),
        Mutant('A1', PKG + 'placement/acceptance.py',
               '    return Decision(action == PASS, BY_STATE,',
               '    return Decision(action != PASS, BY_STATE,',
               ['tests.unit.test_acceptance'],
               'an unjudged destination gets the opposite action'),
        Mutant('A2', PKG + 'placement/acceptance.py',
               '    if state == hoststate.UNJUDGED:\n'
               '        return SOURCE_PLACEMENT_OPTION',
               '    if False:\n'
               '        return SOURCE_PLACEMENT_OPTION',
               ['tests.unit.test_acceptance'],
               'a source Placement failed on follows '
               'untraited_source_action'),
        Mutant('S1', PKG + 'rules/engine.py',
               '    lambda: _merged(catalogue.identity_ignore(),\n'
               '                    catalogue.per_host_fields()))',
               '    catalogue.identity_ignore)',
               RULES, 'similarity counts per-host fields'),
    ]


def rule_classes():
    """[(entry-point name, module path, class name)] of setup.cfg's
    migcompat.rules.
    """
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(ROOT, 'setup.cfg'))
    found = []
    for line in cfg['entry_points']['migcompat.rules'].splitlines():
        if '=' not in line:
            continue
        name, target = (p.strip() for p in line.split('=', 1))
        module, cls = target.split(':')
        found.append((name, module.replace('.', '/') + '.py', cls))
    return found


def _rule_mutants():
    return [Mutant('R-' + name, path, None,
                   '\n\n%s.check = lambda self, ctx: []  # MUTANT\n' % cls,
                   RULES, '%s never blocks' % cls)
            for name, path, cls in rule_classes()]


def mutants():
    return _review_mutants() + _request_path_mutants() + _rule_mutants()


def run_tests(tests, timeout):
    """(passed, seconds, what failed: the first FAIL/ERROR line, else the
    output's tail).
    """
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE='1')
    env.setdefault('MIGCOMPAT_CACHE_DIR', '')
    start = time.monotonic()
    try:
        out = subprocess.run(
            [sys.executable, '-B', '-m', 'testtools.run'] + list(tests),
            cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, time.monotonic() - start, 'timed out'
    lines = (out.stdout + out.stderr).strip().splitlines()
    failed = [line for line in lines if line.startswith(('FAIL:', 'ERROR:'))]
    told = failed[0] if failed else ' | '.join(lines[-3:])
    if len(failed) > 1:
        told += ' (+%d more)' % (len(failed) - 1)
    return out.returncode == 0, time.monotonic() - start, told


def apply(mutant, run):
    """run() with the mutant applied to its file; the file is put back
    whatever happens.
    """
    path = os.path.join(ROOT, mutant.path)
    with open(path) as f:
        original = f.read()
    mutated = mutant.mutate(original)
    try:
        with open(path, 'w') as f:
            f.write(mutated)
        return run()
    finally:
        with open(path, 'w') as f:
            f.write(original)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--list', action='store_true',
                        help='list the mutants and exit')
    parser.add_argument('--only', nargs='+', metavar='ID',
                        help='run only these mutants')
    parser.add_argument('--timeout', type=float, default=1200,
                        help='seconds for one test run (default 1200)')
    args = parser.parse_args(argv)
    chosen = mutants()
    if args.only:
        unknown = set(args.only) - {m.ident for m in chosen}
        if unknown:
            parser.error('no such mutant: %s' % ', '.join(sorted(unknown)))
        chosen = [m for m in chosen if m.ident in args.only]
    if args.list:
        for m in chosen:
            print('%-28s %-45s %s' % (m.ident, m.path, m.what))
        return 0
    # Every mutation site must be there before anything runs.
    for m in chosen:
        with open(os.path.join(ROOT, m.path)) as f:
            m.mutate(f.read())
    for tests in sorted({m.tests for m in chosen}):
        ok, secs, tail = run_tests(tests, args.timeout)
        print('baseline %s: %s (%.0f s)' % (' '.join(tests),
                                            'pass' if ok else 'FAIL', secs))
        if not ok:
            print('  ' + tail)
            print('the unmutated tests fail: fix them first')
            print('killed 0 / %d' % len(chosen))
            return 2
    killed = 0
    for m in chosen:
        ok, secs, tail = apply(m, lambda: run_tests(m.tests, args.timeout))
        killed += not ok
        print('%-28s %-8s %4.0f s  %s' % (
            m.ident, 'survived' if ok else 'killed', secs, m.what))
        if not ok:
            print('    by ' + tail)
        sys.stdout.flush()
    print('killed %d / %d' % (killed, len(chosen)))
    return 0 if killed == len(chosen) else 1


if __name__ == '__main__':
    sys.exit(main())
