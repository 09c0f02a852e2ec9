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

"""One vocabulary: no command name from before
2026.2 anywhere a user reads it (docs, README, config reference, help
texts and messages), no internal review or issue label (a finding's
"D9", "issue 12") in them or in the package's docstrings, whole one-line
descriptions in ``migcompat --help`` and required options shown required.
"""

import glob
import os
import re

import testtools

from migcompat_filter.cmd import shell
from tests import cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

#: What a user reads: the docs, the README, the sample config, the
#: systemd units and the command modules (help strings and messages).
READ_BY_USERS = (
    ['README.rst', 'etc/migcompat.conf.sample']
    + glob.glob(os.path.join(ROOT, 'doc/source/**/*.rst'), recursive=True)
    + glob.glob(os.path.join(ROOT, 'doc/source/images/*.svg'))
    + glob.glob(os.path.join(ROOT, 'etc/systemd/*'))
    + glob.glob(os.path.join(ROOT, 'migcompat_filter/cmd/*.py'))
    + glob.glob(os.path.join(ROOT, 'migcompat_filter/conf/*.py'))
    + glob.glob(os.path.join(ROOT, 'migcompat_filter/demo/*.py'))
    + glob.glob(os.path.join(ROOT, 'migcompat_filter/pictures/*.py')))

_OLD = '|'.join(sorted((re.escape(o) for o in shell.RENAMED),
                       key=len, reverse=True))
#: "migcompat OLD" used as a command: quoted, in backticks, after a
#: prompt or "openstack"; or at the start of a (code) line and followed by
#: an argument, an option or a comment ("migcompat traits at all" is not
#: a command).
_NEW = r'(?! (?:show|compare|publish|create)\b)'
OLD_COMMAND = re.compile(
    r'(?:(?:``|"|`|\$ |openstack |: |\(as )migcompat (%s)(?![\w-])%s'
    r'|^[ \t]*migcompat (%s)(?= +[-A-Z#<]|$)%s)'
    % (_OLD, _NEW, _OLD, _NEW), re.M)
#: The same, cut across two lines ("``migcompat" / "compare SRC``").
OLD_COMMAND_SPLIT = re.compile(
    r'(?:``|"|`|\$ )migcompat\n[ \t#]*(%s)(?![\w-])%s' % (_OLD, _NEW))
#: ``OLD ...`` in the docs, a command named without "migcompat".
OLD_LITERAL = re.compile(r'``(%s)(?![\w-])%s(?: [^`]*)?``' % (_OLD, _NEW))

#: Where the old names are meant: the rename table and the deprecation
#: notes (file, the text of the line).
ALLOWED = (
    ('doc/source/cli.rst', re.compile(r'^``[\w -/`]+``\s+``\w[\w-]*``')),
    # JSON keys of nova's and Placement's answers.
    ('doc/source/scheduler.rst', re.compile(r'^\(``traits`` a list of')),
    ('doc/source/cli.rst', re.compile(r'^2026\.2 \(``matrix``')),
    ('README.rst', re.compile(r'names before this release|``matrix``, '
                              r'``check``, \.\.\.\)')),
    ('doc/source/contributor/layout.rst', re.compile(r'``profile`` \(the')),
    ('README.rst', re.compile(r'``profile`` -> ``traits/``')),
)


#: An internal review's finding ID or an issue number used as a label:
#: "review N10", "(D9)", "(D5-D7)", "issue 12", "finding 3" (not an
#: upstream project's issue: those have four digits or more).
REVIEW_LABEL = re.compile(
    r'\b(?:[Rr]eview|[Ii]ssue \d{1,2},?) [A-Z]\d{1,2}\b'
    r'|\((?:review )?[DNF]\d{1,2}(?:[-,/ ]+[DNF]?\d{1,2})*\)'
    r'|\b[Ii]ssue \d{1,2}\b|\bfinding \d\b')
#: Everything a user or a reader of the package reads.
PACKAGE_AND_DOCS = sorted(
    set(os.path.relpath(os.path.join(ROOT, p), ROOT) for p in READ_BY_USERS)
    | set(os.path.relpath(p, ROOT) for p in glob.glob(
        os.path.join(ROOT, 'migcompat_filter/**/*.py'), recursive=True)))
#: Files being rewritten elsewhere at the time of writing; each still
#: cites a finding in a comment (drop the entry once it is gone).
LABELS_PENDING = ()


def _allowed(rel, line):
    return any(rel == f and r.search(line) for f, r in ALLOWED)


class TestNoOldCommandNames(testtools.TestCase):

    def test_files_a_user_reads(self):
        found = []
        for path in READ_BY_USERS:
            path = os.path.join(ROOT, path)
            rel = os.path.relpath(path, ROOT)
            with open(path, encoding='utf-8') as f:
                text = f.read()
            for n, line in enumerate(text.splitlines(), 1):
                if _allowed(rel, line):
                    continue
                hits = OLD_COMMAND.findall(line)
                if rel.endswith('.rst'):
                    hits += OLD_LITERAL.findall(line)
                found += ['%s:%d: %s' % (rel, n, line.strip())
                          for _ in hits[:1]]
            # A name cut across two lines.
            found += ['%s: "migcompat %s" across two lines' % (rel, m)
                      for m in OLD_COMMAND_SPLIT.findall(text)]
        self.assertEqual([], found)

    def test_the_check_can_fail(self):
        for line in ('run "migcompat report" hourly',
                     '   migcompat compare SRC DST', '``migcompat matrix``',
                     '(as ``migcompat what-if``)', '$ migcompat traits',
                     '   migcompat report --dry-run'):
            self.assertTrue(OLD_COMMAND.search(line), line)
        for line in ('``migcompat profile show``', 'migcompat traits at all',
                     '``migcompat snapshot create DIR``',
                     'no migcompat traits', '    migcompat traits" (and'):
            self.assertFalse(OLD_COMMAND.search(line), line)
        self.assertTrue(OLD_COMMAND_SPLIT.search('``migcompat\ncompare``'))
        self.assertTrue(OLD_LITERAL.search('``report --dry-run``'))
        self.assertFalse(OLD_LITERAL.search('``profile compare SRC``'))

    def test_no_review_labels(self):
        found = []
        for rel in PACKAGE_AND_DOCS:
            if rel in LABELS_PENDING:
                continue
            with open(os.path.join(ROOT, rel), encoding='utf-8') as f:
                for n, line in enumerate(f, 1):
                    if REVIEW_LABEL.search(line):
                        found.append('%s:%d: %s' % (rel, n, line.strip()))
        self.assertEqual([], found)

    def test_the_label_check_can_fail(self):
        for line in ('bounded (review N10): the', 'a 200 {} (D9).',
                     'never wedges (D5-D7)', 'the guest (issue 10)',
                     '(issue 21, finding 1: imported', 'Issue 12 D4: the'):
            self.assertTrue(REVIEW_LABEL.search(line), line)
        for line in ('Arm Neoverse-N1', 'KubeVirt issue 16386', 'R1, R2',
                     'x86 (D65 white)', 'a reviewed profile'):
            self.assertFalse(REVIEW_LABEL.search(line), line)

    def test_help_of_every_command(self):
        rc, out, err = cli.run('--help')
        self.assertEqual(0, rc, err)
        commands = re.findall(r'^  (\S+(?: [a-z][\w-]*)?)  +(.*)$',
                              out.split('Commands:')[1], re.M)
        self.assertGreater(len(commands), 15)
        found = []
        for name, one_liner in commands:
            if name in ('complete', 'help'):
                continue
            # A whole sentence, not a line cut in the middle of one.
            last = one_liner.split()[-1]
            if last.endswith(',') or last in ('the', 'a', 'as', 'each',
                                              'by', 'live', 'of'):
                found.append('%s: one-liner cut: %s' % (name, one_liner))
            rc, text, err = cli.run(*(name.split() + ['--help']))
            self.assertEqual(0, rc, err)
            hits = OLD_COMMAND.findall(' '.join(text.split()))
            found += ['%s --help names "migcompat %s"' % (name, h)
                      for h in hits]
        self.assertEqual([], found)

    def test_every_one_liner_is_a_whole_summary(self):
        # cliff's one-liner in "migcompat --help" is the docstring's
        # first line: a summary that wraps is cut mid-sentence there.
        app = shell.MigcompatApp()
        cut = []
        for name, entry in sorted(app.command_manager):
            if name in ('complete', 'help'):
                continue
            factory = entry.load() if hasattr(entry, 'load') else entry
            summary = (factory.__doc__ or '').strip().split('\n\n')[0]
            if '\n' in summary or not summary:
                cut.append('%s: %r' % (name, summary))
        self.assertEqual([], cut)

    def test_required_options_are_shown_required(self):
        for name, options in ((('fleet', 'what-if'), ('--set',)),
                              (('fleet', 'upgrade-plan'),
                               ('--set', '--aggregate'))):
            rc, text, err = cli.run(*(name + ('--help',)))
            self.assertEqual(0, rc, err)
            usage = ' '.join(text.split('\n\n')[0].split())
            for option in options:
                self.assertIn(option, usage)
                self.assertNotIn('[%s ' % option, usage)
