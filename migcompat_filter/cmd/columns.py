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

import textwrap

from cliff import columns

from migcompat_filter import profile as profile_mod


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
        text = ', '.join(_human(v) for v in value) or '(none)'
        lines = textwrap.wrap(text, 72, subsequent_indent=indent + '  ')
        return '\n'.join(lines) or text
    if value is None:
        return '-'
    if value is True:
        return 'true'
    if value is False:
        return 'false'
    return str(value)


class WrappedColumn(columns.FormattableColumn):
    """A long text: wrapped to 60 columns in a table, whole in json/yaml
    (a piped table stays readable).
    """

    def human_readable(self):
        return '\n'.join(textwrap.wrap(self._value, 60)) or self._value

    def machine_readable(self):
        return self._value
