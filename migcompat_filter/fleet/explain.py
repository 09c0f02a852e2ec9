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

"""Why did a live migration fail: its error text mapped to a factor.

:func:`explain` matches an error text against the table of
:mod:`.failure_patterns` and returns rows ``{factor, cause, hint,
evidence}``. With the two hosts' profiles it also says what differs
between them *now* for that factor (the text says what failed then).
A text no row matches is ``factor: unknown``: never a guess.

:func:`nova_texts` collects the error texts nova keeps of one migration:
the instance action's events (``details``, microversion 2.84, and the
admin-only ``traceback``) and the server's fault.
"""

import datetime
import re

from migcompat_filter.fleet import failure_patterns as table
from migcompat_filter.profile import is_unknown
from migcompat_filter.profile import to_jsonable

UNKNOWN = 'unknown'
#: How much of an unmatched text the evidence quotes.
QUOTE = 300
#: nova keeps an event's details in a String(255) column.
NOVA_DETAILS_MAX = 255
#: nova microversion whose instance action events carry ``details``.
EVENT_DETAILS_MICROVERSION = '2.84'

_COMPILED = [(p, re.compile(p['regex'])) for p in table.PATTERNS]


def explain(text, source=None, destination=None, text_from=None):
    """[row] for one error text; source/destination: Profiles or None."""
    return explain_texts([(text_from, text)], source, destination)


def explain_texts(texts, source=None, destination=None, none_found=None):
    """[row] for [(where the text came from, text)]: one row per pattern
    that matched (the first text it matched in), generic rows only when no
    cause row matched, ``unknown`` when neither did.
    """
    causes, generic, wrappers, seen = [], [], [], set()
    for text_from, text in texts:
        for pattern, regex in _COMPILED:
            m = regex.search(text or '')
            if not m or pattern['name'] in seen:
                continue
            seen.add(pattern['name'])
            if pattern['kind'] == table.WRAPPER:
                wrappers.append({'pattern': pattern['name'],
                                 'origin': pattern['origin'],
                                 'hint': pattern['hint']})
                continue
            row = _row(pattern, m, text_from, source, destination)
            (causes if pattern['kind'] == table.CAUSE else generic).append(
                row)
    rows = causes or generic
    if rows:
        return rows
    return [unknown_row(texts, wrappers, none_found)]


def unknown_row(texts, wrappers=(), none_found=None):
    quoted = [{'from': f, 'text': ' '.join((t or '').split())[:QUOTE]}
              for f, t in texts if (t or '').strip()]
    if not quoted:
        cause = none_found or 'no error text was given'
        hint = ('pass the error line from the logs with --error-text '
                '(nova-compute logs "Live Migration failure: ..." on the '
                'source)')
    else:
        cause = ('no pattern of migcompat\'s table matches this text; '
                 'nothing is guessed')
        hint = next((w['hint'] for w in wrappers if w.get('hint')), (
            'read the full error in the destination\'s libvirt and QEMU '
            'logs; migcompat profile compare SOURCE DESTINATION lists what '
            'differs between the hosts'))
    return {'factor': UNKNOWN, 'cause': cause, 'hint': hint,
            'evidence': {'texts': quoted, 'wrappers': [
                {k: v for k, v in w.items() if k != 'hint'}
                for w in wrappers]}}


def _row(pattern, m, text_from, source, destination):
    groups = {k: v for k, v in m.groupdict().items() if v is not None}
    evidence = {'matched': m.group(0).strip(), 'pattern': pattern['name'],
                'origin': pattern['origin']}
    if text_from:
        evidence['text_from'] = text_from
    evidence.update(groups)
    hint = pattern['hint']
    if source is not None or destination is not None:
        now, differs = differs_now(pattern['factor'], groups, source,
                                   destination)
        evidence['now'] = now
        evidence['differs_now'] = differs
    return {'factor': pattern['factor'], 'cause': pattern['cause'],
            'hint': hint, 'evidence': evidence}


# -- what differs now -------------------------------------------------------

#: Factors that change a host's CPU features under the same CPU model.
_FEATURE_CAUSES = ('microcode_version', 'kernel_settings', 'kernel_version',
                   'firmware_version', 'firmware_settings', 'cpu_model',
                   'qemu_version')


def _value(prof, factor):
    if prof is None:
        return None
    value = prof.get(factor) if hasattr(prof, 'get') else None
    return None if value is None or is_unknown(value) else value


def _features(prof):
    """The CPU features a guest can get on prof (host-model's, else the
    host CPU's), or None when unknown.
    """
    for factor in ('host_model', 'cpu_features'):
        value = _value(prof, factor)
        if isinstance(value, dict) and isinstance(value.get('features'),
                                                  list):
            return set(value['features'])
    return None


def _feature_names(groups):
    if groups.get('features'):
        return [f.strip() for f in groups['features'].split(',')
                if f.strip()]
    if groups.get('feature'):
        # QEMU spells CPUID.07H:EBX.hle; libvirt's name is the last part.
        return [groups['feature'].rsplit('.', 1)[-1].strip()]
    return []


def _differing(source, destination, factors):
    out = []
    for factor in factors:
        a, b = _value(source, factor), _value(destination, factor)
        # Compared as data: an Unknown inside equals nothing, not even
        # the same Unknown on the other host.
        if a is not None and b is not None and (to_jsonable(a) !=
                                                to_jsonable(b)):
            out.append(factor)
    return out


def _cmdline(prof):
    value = _value(prof, 'kernel_settings')
    cmdline = value.get('cmdline') if isinstance(value, dict) else None
    return cmdline if isinstance(cmdline, dict) else {}


def differs_now(factor, groups, source, destination):
    """(sentence, [factors that differ now]) for a matched row."""
    if factor in ('cpu_features', 'cpu_model'):
        return _cpu_now(groups, source, destination)
    if factor == 'machine_types':
        machine = groups.get('machine')
        dst = _value(destination, 'machine_types')
        src = _value(source, 'machine_types')
        if not machine or dst is None:
            return ('destination machine types unknown', [])
        if machine in dst:
            return ('destination offers %s now' % machine, [])
        text = 'destination QEMU %s lacks %s' % (
            _value(destination, 'qemu_version') or '(version unknown)',
            machine)
        if src and machine in src:
            return ('%s (source has it, QEMU %s)' % (
                text, _value(source, 'qemu_version')), ['machine_types'])
        return ('%s; so does the source now (the guest started under '
                'another QEMU)' % text if src is not None else text, [])
    if factor in ('qemu_version', 'libvirt_version', 'usable_models',
                  'tsc'):
        a, b = _value(source, factor), _value(destination, factor)
        if a is None or b is None:
            return ('%s unknown on %s' % (factor, 'the source' if a is None
                                          else 'the destination'), [])
        if to_jsonable(a) == to_jsonable(b):
            return ('%s is the same on both hosts now' % factor, [])
        return ('%s: source %s, destination %s' % (
            factor, _short(a), _short(b)), [factor])
    return ('', [])


def _short(value):
    text = str(value)
    return text if len(text) <= 80 else text[:77] + '...'


def _cpu_now(groups, source, destination):
    names = _feature_names(groups)
    src, dst = _features(source), _features(destination)
    differs = _differing(source, destination, _FEATURE_CAUSES)
    parts = []
    if names and dst is not None:
        lacking = [n for n in names if n not in dst]
        if lacking:
            parts.append('destination lacks %s now%s' % (
                ', '.join(lacking), ' (source has %s)'
                % ', '.join(n for n in lacking if n in src)
                if src and any(n in src for n in lacking) else ''))
        else:
            parts.append('destination offers %s now' % ', '.join(names))
    elif names:
        parts.append('destination CPU features unknown')
    if 'microcode_version' in differs:
        parts.append('microcode: destination %s vs source %s' % (
            _value(destination, 'microcode_version'),
            _value(source, 'microcode_version')))
    extra = {k: v for k, v in _cmdline(destination).items()
             if _cmdline(source).get(k) != v}
    if extra:
        parts.append('destination kernel command line: %s' % ' '.join(
            '%s=%s' % kv for kv in sorted(extra.items())))
    for factor in ('kernel_version', 'qemu_version', 'cpu_model'):
        if factor in differs:
            parts.append('%s: destination %s vs source %s' % (
                factor, _short(_value(destination, factor)),
                _short(_value(source, factor))))
    return ('; '.join(parts), differs)


# -- nova's record of a migration ------------------------------------------

def _stamp(text):
    if not text:
        return None
    try:
        return datetime.datetime.fromisoformat(
            text.replace('Z', '+00:00')[:26]).replace(tzinfo=None)
    except ValueError:
        return None


def pick_action(actions, migration):
    """The live-migration instance action of this migration: the one that
    started closest to the migration's creation (nova links them only by
    time), or None.
    """
    lives = [a for a in actions if a.get('action') == 'live-migration']
    created = _stamp(migration.get('created_at'))
    if not lives:
        return None
    if created is None:
        return lives[0]

    def distance(action):
        start = _stamp(action.get('start_time'))
        return (abs((start - created).total_seconds())
                if start else float('inf'))
    return min(lives, key=distance)


def exception_text(traceback):
    """The exception message at the end of a Python traceback: the lines
    after its last frame (frames are indented; a message of several lines
    is not), whole where nova's event ``details`` is cut at 255
    characters.
    """
    lines = (traceback or '').rstrip().splitlines()
    tail = []
    for line in reversed(lines):
        if line.startswith((' ', '\t')):
            break
        tail.append(line)
    return '\n'.join(reversed(tail)).strip()


#: The instance action events that run on the destination.
DESTINATION_EVENTS = ('compute_check_can_live_migrate_destination',
                      'compute_pre_live_migration')


def destination_from_events(events):
    """The destination compute service host as nova's events name it
    (a migration refused at the pre-check has no dest_compute), or None.
    """
    for event in events or ():
        if event.get('event') in DESTINATION_EVENTS and event.get('host'):
            return event['host']
    return None


def nova_texts(events, server=None):
    """[(where, text)] of the failed events (the traceback's exception
    message, then the details) and the server's fault.
    """
    out = []
    for event in events or ():
        if event.get('result') not in ('Error', 'error'):
            continue
        where = 'instance action event %s%s' % (
            event.get('event'), ' on %s' % event['host']
            if event.get('host') else '')
        # nova's traceback holds the frames only (format_tb); the message
        # is in details, which its database cuts at 255 characters.
        text = exception_text(event.get('traceback'))
        if text:
            out.append((where, text))
        details = event.get('details') or ''
        if details:
            out.append((where + (' (details, cut at %d characters by nova)'
                                 % NOVA_DETAILS_MAX
                                 if len(details) >= NOVA_DETAILS_MAX
                                 else ''), details))
    fault = (server or {}).get('fault') or {}
    for key in ('message', 'details'):
        if fault.get(key):
            out.append(('server fault', fault[key]))
    return out
