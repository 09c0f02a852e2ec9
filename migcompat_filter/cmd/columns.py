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

"""The output columns the commands share: readable in a table, the data
itself in json and yaml (cliff FormattableColumns).
"""

import json

from cliff import columns

from migcompat_filter import profile as profile_mod


class JSONColumn(columns.FormattableColumn):
    """Structured data: compact JSON in a table, the data itself in
    json/yaml.
    """

    def human_readable(self):
        value = profile_mod.to_jsonable(self._value)
        if isinstance(value, str):
            return value
        return json.dumps(value, sort_keys=True)

    def machine_readable(self):
        return profile_mod.to_jsonable(self._value)


class ListColumn(columns.FormattableColumn):
    def human_readable(self):
        return '\n'.join(str(v) for v in self._value or ())

    def machine_readable(self):
        return list(self._value or ())


class FactorColumn(columns.FormattableColumn):
    """A factor value: raw JSON data for json/yaml, readable text for
    table/value (an unknown as "unknown: reason").
    """

    def human_readable(self):
        return _human(self._value)

    def machine_readable(self):
        return self._value


def _human(value, indent=''):
    if isinstance(value, dict):
        if profile_mod.is_unknown_json(value):
            return 'unknown: %s' % value.get('reason')
        lines = []
        for key in sorted(value):
            sub = value[key]
            if isinstance(sub, dict) and not profile_mod.is_unknown_json(sub):
                lines.append('%s%s:' % (indent, key))
                lines.append(_human(sub, indent + '  '))
            else:
                lines.append('%s%s: %s' % (indent, key, _human(sub)))
        return '\n'.join(lines) if lines else '%s(none)' % indent
    if isinstance(value, list):
        # One line: a table wraps it to its column (fit_rows).
        return ', '.join(_human(v) for v in value) or '(none)'
    if value is None:
        return '-'
    if value is True:
        return 'true'
    if value is False:
        return 'false'
    return str(value)


class WrappedColumn(columns.FormattableColumn):
    """A long text: one line (a table wraps it to its column), whole in
    json/yaml.
    """

    def human_readable(self):
        return ' '.join(self._value.split()) or self._value

    def machine_readable(self):
        return self._value


# -- fitting a table to the terminal (or to PIPED_WIDTH) ---------------------

#: The width of a table when stdout is not a terminal (a pipe, a file, a
#: ticket): wide enough for the columns, narrow enough to paste.
PIPED_WIDTH = 100

#: Where a token longer than its column may be cut, after the character
#: (a trait name at "_", a list at ",", a path at "/", a CPU model name
#: at "-"); never elsewhere unless nothing else fits.
_SOFT_BREAKS = '_,/:=;-'


class Wrappable(columns.FormattableColumn):
    """A column that wraps its own text to a width, keeping its layout
    (hanging indents): ``wrapped(width)`` is used in a table whose column
    is width wide, ``human_readable()`` (one line per item) elsewhere.
    """

    def human_readable(self):
        return '\n'.join(self.wrapped(None))

    def wrapped(self, width):
        """The lines of the text wrapped to width (None: unwrapped)."""
        raise NotImplementedError()


def wrap_item(text, width, first='', rest=None):
    """The lines of one item (a finding, a reason, a list entry): text
    after first, its continuation lines indented by rest (default: as
    wide as first), wrapped at word boundaries to width (None: one line).
    """
    rest = ' ' * len(first) if rest is None else rest
    if width is None or len(first) + len(text) <= width:
        return [first + text]
    words = []
    for word in text.split():
        words.extend(_cut(word, max(8, width)))
    lines, line, empty = [], first, True
    for word in words:
        if not empty and len(line) + 1 + len(word) > width:
            lines.append(line)
            # A word too long for the indent starts the line instead.
            line = (rest if len(rest) + len(word) <= width else '') + word
        else:
            line = line + ('' if empty else ' ') + word
        empty = False
    lines.append(line)
    return lines


def _cut(word, width):
    """word in pieces of at most width, cut after a soft break character
    when it is longer (a 128-character trait name in a 60-column cell).
    """
    pieces = []
    while len(word) > width:
        at = max(word.rfind(c, 0, width) for c in _SOFT_BREAKS)
        at = at + 1 if at > 0 else width
        pieces.append(word[:at])
        word = word[at:]
    return pieces + [word] if word else pieces


def _text(value):
    if isinstance(value, columns.FormattableColumn):
        return value.human_readable()
    return '' if value is None else str(value)


def _wrap_cell(value, width):
    """The cell's text wrapped to width (a Wrappable wraps itself; other
    text line by line, continuation lines under the line's own indent
    plus two).
    """
    if isinstance(value, Wrappable):
        return '\n'.join(value.wrapped(width))
    text = _text(value)
    if not isinstance(value, (str, columns.FormattableColumn)):
        return value  # numbers keep their alignment
    out = []
    for line in text.split('\n'):
        indent = line[:len(line) - len(line.lstrip())]
        out.extend(wrap_item(line.strip(), width, indent, indent + '  '))
    return '\n'.join(out)


def _natural(texts):
    return max([len(line) for t in texts for line in t.split('\n')] or [0])


def _longest_word(texts):
    return max([len(w) for t in texts for w in t.split()] or [0])


def _atomic(texts):
    return all(len(line.split()) <= 1 for t in texts for line in t.split('\n'))


def allot_widths(names, rows, width):
    """Column widths whose table (borders included) is at most width: the
    widest column gives up a character until the table fits, none
    narrower than its header or than its longest word up to 24
    characters, a column of single words (a UUID, a host name) not at
    all; only when that is not enough are words cut at their soft breaks
    (prose columns first). None when the table fits as it is.
    """
    cols = [[n] + [_text(r[i]) for r in rows] for i, n in enumerate(names)]
    natural = [_natural(c) for c in cols]
    budget = width - 3 * len(names) - 1
    if sum(natural) <= budget:
        return None
    floor = [nat if _atomic(c[1:]) and nat <= 40 else
             min(nat, max(len(name), min(24, _longest_word(c[1:]))))
             for nat, name, c in zip(natural, names, cols)]
    widths = list(natural)
    excess = _shrink(widths, floor, sum(widths) - budget)
    # Still too wide for the terminal (which would wrap every line a
    # second time): words are cut where they may be (after "-", "_",
    # "/" ...), the prose columns first, then the one-word ones; never
    # below a header or _NARROWEST.
    for atomic in (False, True):
        if excess > 0:
            floor = [f if _atomic(c[1:]) != atomic else
                     min(f, max(len(name), _NARROWEST))
                     for f, name, c in zip(floor, names, cols)]
            excess = _shrink(widths, floor, excess)
    return widths


#: A column cut to fit a narrow terminal is never narrower than this.
_NARROWEST = 12


def _shrink(widths, floor, excess):
    """Take excess characters from the widest columns above their floor;
    what could not be taken.
    """
    while excess > 0:
        room = [i for i in range(len(widths)) if widths[i] > floor[i]]
        if not room:
            break
        i = max(room, key=lambda j: widths[j])
        widths[i] -= 1
        excess -= 1
    return excess


def fit_rows(names, rows, width):
    """rows with their text wrapped so that the table fits width."""
    widths = allot_widths(names, rows, width)
    if widths is None:
        return rows
    return [tuple(_wrap_cell(v, w) for v, w in zip(row, widths))
            for row in rows]


def flat(value):
    """One cell for -f value/csv/shell: a list of scalars as "a, b", other
    structured data as compact JSON, never a Python repr.
    """
    if isinstance(value, columns.FormattableColumn):
        value = value.machine_readable()
    value = profile_mod.to_jsonable(value)
    if isinstance(value, (list, tuple)) and all(
            isinstance(v, (str, int, float)) for v in value):
        return ', '.join(str(v) for v in value)
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, sort_keys=True)
    return value


class OutputAdapter(object):
    """The command's cliff formatter, with migcompat's output rules: a
    table fitted to the terminal (PIPED_WIDTH when piped) at word
    boundaries, so that cliff does not re-wrap it; flat cells for
    value/csv/shell; a note on stderr when a list is empty.
    """

    FLAT = ('value', 'csv', 'shell')

    def __init__(self, formatter, parsed_args, stdout, stderr,
                 empty_message):
        self._formatter = formatter
        self._args = parsed_args
        self._stdout = stdout
        self._stderr = stderr
        self._empty = empty_message
        self._name = getattr(parsed_args, 'formatter', None)

    def __getattr__(self, name):
        return getattr(self._formatter, name)

    def _none(self, value):
        """No value: "-" in a table (not "None"), empty elsewhere."""
        if value is not None:
            return value
        if self._name == 'table':
            return '-'
        return '' if self._name in self.FLAT else None

    def _width(self):
        given = getattr(self._args, 'max_width', 0) or 0
        if given > 0:
            return given
        try:
            if self._stdout.isatty():
                import shutil
                return shutil.get_terminal_size().columns
        except (AttributeError, ValueError, OSError):
            pass
        return PIPED_WIDTH

    def _table_args(self):
        # Our table fits already: cliff must not shrink it again (it cuts
        # words in the middle).
        import argparse
        args = argparse.Namespace(**vars(self._args))
        args.max_width = 10 ** 6
        return args

    def emit_list(self, column_names, data, stdout, parsed_args):
        data = [tuple(self._none(v) for v in row) for row in data]
        if not data and self._empty and self._name == 'table':
            self._stderr.write(self._empty + '\n')
        if self._name == 'table':
            data = fit_rows(column_names, data, self._width())
            parsed_args = self._table_args()
        elif self._name in self.FLAT:
            data = [tuple(flat(v) for v in row) for row in data]
        return self._formatter.emit_list(column_names, data, stdout,
                                         parsed_args)

    def emit_one(self, column_names, data, stdout, parsed_args):
        data = tuple(self._none(v) for v in data)
        if self._name == 'table':
            # cliff's Field | Value table.
            rows = fit_rows(('Field', 'Value'),
                            list(zip(column_names, data)), self._width())
            data = tuple(r[1] for r in rows)
            column_names = tuple(r[0] for r in rows)
            parsed_args = self._table_args()
        elif self._name in self.FLAT:
            data = tuple(flat(v) for v in data)
        return self._formatter.emit_one(column_names, data, stdout,
                                        parsed_args)


def progress_printer(stream):
    """progress(done, total, what) writing one updating line to stream
    (Fleet.progress: profile groups read, then loose hosts).
    """
    state = {'last': None}

    def progress(done, total, what='hosts'):
        pct = done * 100 // total
        if state['last'] == (what, pct) and done != total:
            return
        state['last'] = (what, pct)
        stream.write('\rreading %s: %d/%d (%d%%)' % (what, done, total, pct))
        if done == total:
            stream.write('\n')
        stream.flush()
    return progress
