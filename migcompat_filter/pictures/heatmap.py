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

"""The live-migration matrix as a picture: a hand-written SVG heat map.

Rows are source groups, columns destination groups (a group is a set of
hosts with identical profiles, see :mod:`migcompat_filter.fleet.matrix`),
named on the axes by their first host and how many more it has
("milan-a (+1)"). Each cell has a colour from a colour-blind-safe palette
*and* a glyph (check, exclamation mark, cross; a dash for n/a), so the
verdict survives a greyscale print; a refused cell names its first
blocking factor. The diagonal of a one-host group is n/a: a host does not
migrate to itself.

The canvas is sized from the measured text (:mod:`.svgdraw`) and every
label is cut to fit its box, so the picture pasted as a PNG into a ticket
shows everything. Every cell is a ``rect`` carrying ``data-source``,
``data-destination`` (group labels), ``data-status`` and
``data-blocking`` attributes and a ``title`` tooltip with the full
reason, so the picture can be checked (and scripted) as data.
"""

from xml.sax.saxutils import escape
from xml.sax.saxutils import quoteattr

from migcompat_filter import cpu_modes
from migcompat_filter.exception import InputError
from migcompat_filter.pictures import svgdraw
from migcompat_filter.profile import is_unknown

COLOURS = svgdraw.PALETTE
CELL = 72
MARGIN = 12
TITLE_SIZE = 14
SUBTITLE_SIZE = 11
AXIS_SIZE = 11
CELL_TEXT_SIZE = 9
LEGEND_SIZE = 11
#: Axis names longer than this are cut (the legend has them in full).
AXIS_MAX = 170
NOT_APPLICABLE = 'n/a'
#: Characters of the first reason in a cell's tooltip.
TIP_MAX = 240


def axis_name(group):
    """The group's name on an axis: its first host, and how many more."""
    names = group.names
    extra = len(names) - 1
    return names[0] + (' (+%d)' % extra if extra else '')


def status(cell):
    """The cell's verdict, n/a for a one-host group against itself."""
    if cell.source is cell.destination and len(cell.source.hosts) == 1:
        return NOT_APPLICABLE
    return cell.status


def _short(names, limit=6):
    if len(names) <= limit:
        return ', '.join(names)
    return '%s, ... (+%d)' % (', '.join(names[:limit]), len(names) - limit)


def reason_keys(matrix, groups=None):
    """{tuple of blocking factors: key}: "R1", "R2"... for each distinct
    set of blocking factors, in the order the cells show them; the legend
    lists every key with its factors in full.
    """
    groups = matrix.groups if groups is None else groups
    keys = {}
    for src in groups:
        for dst in groups:
            cell = matrix.cell(src, dst)
            if status(cell) == 'refused':
                factors = tuple(cell.blocking or ['refused'])
                keys.setdefault(factors, 'R%d' % (len(keys) + 1))
    return keys


def cluster(matrix):
    """The groups in an order that puts similar ones side by side: a
    greedy chain from the biggest group, each next the one whose row and
    column of verdicts agree most with the last one's (ties: the
    original order).
    """
    groups = list(matrix.groups)
    if len(groups) < 3:
        return groups

    def agree(a, b):
        same = sum((matrix.cell(a, k).status == matrix.cell(b, k).status) +
                   (matrix.cell(k, a).status == matrix.cell(k, b).status)
                   for k in groups)
        return same + 2 * (matrix.cell(a, b).status != 'refused') + 2 * (
            matrix.cell(b, a).status != 'refused')
    order = [groups.pop(0)]
    while groups:
        best = max(groups, key=lambda g: (agree(order[-1], g),
                                          -groups.index(g)))
        groups.remove(best)
        order.append(best)
    return order


def _declares_mode(profile):
    declared = profile['cpu_mode'] if profile is not None else None
    return not is_unknown(declared) and declared in cpu_modes.MODES


def mode_text(matrix):
    """(the guest CPU mode of the cells, for a subtitle; a plain note or
    None): the mode given, else each source's own nova cpu_mode. A source
    that reports no cpu_mode is judged in nova's default (host-model);
    the note says so, and the subtitle does not claim "each source's own"
    when no source has one.
    """
    if matrix.mode:
        return matrix.mode, None
    groups = matrix.groups
    silent = [g for g in groups if not _declares_mode(g.profile)]
    if not silent:
        return "each source's own cpu_mode", None
    judged = ' and '.join(sorted({matrix.cell(g, g).verdict.mode
                                  for g in silent}))
    if len(silent) == len(groups):
        return ('unknown on every host, so judged as %s' % judged,
                "no host reports nova's [libvirt] cpu_mode: every cell is "
                "judged as a %s guest, nova's default (--mode judges "
                "another)" % judged)
    hosts = sum(len(g.hosts) for g in silent)
    return ("each source's own cpu_mode",
            "%d of %d hosts report no [libvirt] cpu_mode (%s): their rows "
            "are judged as a %s guest, nova's default"
            % (hosts, sum(len(g.hosts) for g in groups),
               _short([n for g in silent for n in g.names]), judged))


def cell_label(cell, width=CELL - 6, size=CELL_TEXT_SIZE, keys=None):
    """The lines of words under the glyph, each cut to width px: for a
    refused cell its key in the legend (which lists every blocking
    factor) and its one factor in full, or how many; else the verdict.
    """
    verdict = status(cell)
    if verdict == 'refused':
        blocking = cell.blocking or ['refused']
        key = (keys or {}).get(tuple(blocking))
        lines = [key] if key else []
        if len(blocking) == 1 and svgdraw.text_width(
                blocking[0], size) <= width:
            lines.append(blocking[0])
        else:
            n = len(blocking)
            lines.append('%d factor%s' % (n, '' if n == 1 else 's'))
    elif verdict == 'warn':
        n = len(cell.verdict.warnings)
        lines = ['%d warning%s' % (n, '' if n == 1 else 's')]
    else:
        lines = ['ok' if verdict == 'ok' else NOT_APPLICABLE]
    return [svgdraw.fit(line, width, size) for line in lines]


def _tip(src, dst, cell):
    if status(cell) == NOT_APPLICABLE:
        return '%s -> itself: n/a (a one-host group; a host does not ' \
            'migrate to itself)' % src.names[0]
    reason = cell.reason()
    if len(reason) > TIP_MAX:
        # The tooltip is a hint; migcompat matrix --pairs has it in full.
        reason = reason[:TIP_MAX - 1] + svgdraw.ELLIPSIS
    return '%s (%s) -> %s (%s): %s%s' % (
        src.label, _short(src.names), dst.label, _short(dst.names),
        cell.text(), ': ' + reason if reason else '')


def svg(matrix, title='Live migration: which hosts can receive guests '
        'from which', scope=None, when=None):
    """The SVG document (str) of a fleet.matrix.Matrix; scope says which
    hosts (cloud, aggregate), when the time the fleet was read (default
    now).
    """
    groups = cluster(matrix)
    keys = reason_keys(matrix, groups)
    n = len(groups)
    names = [svgdraw.fit(axis_name(g), AXIS_MAX, AXIS_SIZE) for g in groups]
    name_width = max([svgdraw.text_width(s, AXIS_SIZE) for s in names] +
                     [0])
    mode, mode_note = mode_text(matrix)
    subtitle = ('guest CPU mode: %s; rows: from (source), columns: to '
                '(destination)' % mode)
    if when is None:
        import time
        when = time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())
    scope_line = '%s; %d host%s in %d group%s; read %s' % (
        scope or 'every compute node with migcompat traits',
        sum(len(g.hosts) for g in groups),
        '' if sum(len(g.hosts) for g in groups) == 1 else 's', n,
        '' if n == 1 else 's', when)
    legend = _legend_lines(matrix, groups, keys)
    body = []
    y = MARGIN + TITLE_SIZE
    body.append(svgdraw.text(MARGIN, y, title, TITLE_SIZE, cls='title'))
    y += SUBTITLE_SIZE + 6
    body.append(svgdraw.text(MARGIN, y, subtitle, SUBTITLE_SIZE,
                             cls='subtitle'))
    y += SUBTITLE_SIZE + 4
    body.append(svgdraw.text(MARGIN, y, scope_line, SUBTITLE_SIZE,
                             cls='scope'))
    if mode_note:
        y += SUBTITLE_SIZE + 4
        body.append(svgdraw.text(MARGIN, y, mode_note, SUBTITLE_SIZE,
                                 cls='mode-note'))
    x0 = MARGIN + name_width + 8
    y0 = y + 10 + name_width + 8
    for j, name in enumerate(names):
        # Column names read upwards from just above their column.
        x = x0 + j * CELL + CELL / 2.0 + AXIS_SIZE / 3.0
        yb = y0 - 6
        body.append(svgdraw.text(
            x, yb, name, AXIS_SIZE, cls='column',
            extra='data-group=%s transform="rotate(-90 %.1f %.1f)"'
            % (quoteattr(groups[j].label), x, yb)))
    for i, src in enumerate(groups):
        y = y0 + i * CELL
        body.append(svgdraw.text(
            x0 - 8, y + CELL / 2.0 + AXIS_SIZE / 3.0, names[i], AXIS_SIZE,
            anchor='end', cls='row',
            extra='data-group=%s' % quoteattr(src.label)))
        for j, dst in enumerate(groups):
            body.append(_cell(matrix.cell(src, dst), x0 + j * CELL, y,
                              keys))
    y = y0 + n * CELL + 10
    width = x0 + n * CELL
    for size, line, cls, swatch in legend:
        y += size + 6
        x = MARGIN
        if swatch:
            body.append(_swatch(swatch, x, y - size))
            x += 22
        body.append(svgdraw.text(x, y, line, size, cls=cls,
                                 extra=_legend_data(cls, line, groups)))
        width = max(width, x + svgdraw.text_width(line, size))
    width = max(width, MARGIN + svgdraw.text_width(title, TITLE_SIZE),
                MARGIN + svgdraw.text_width(subtitle, SUBTITLE_SIZE),
                MARGIN + svgdraw.text_width(scope_line, SUBTITLE_SIZE),
                MARGIN + svgdraw.text_width(mode_note or '', SUBTITLE_SIZE))
    return svgdraw.document(int(width + MARGIN + 0.999),
                            int(y + MARGIN), title, body)


def _cell(cell, x, y, keys=None):
    verdict = status(cell)
    fill = COLOURS[verdict]
    ink = svgdraw.ink(fill)
    src, dst = cell.source, cell.destination
    return (
        '<g class="cell-box"><rect class="cell" x="%d" y="%d" width="%d" '
        'height="%d" fill="%s" stroke="#FFFFFF" stroke-width="2" '
        'data-source=%s data-destination=%s data-status=%s '
        'data-shown=%s data-blocking=%s><title>%s</title></rect>%s%s</g>'
        % (x, y, CELL, CELL, fill, quoteattr(src.label),
            quoteattr(dst.label), quoteattr(cell.status), quoteattr(verdict),
            quoteattr(','.join(cell.blocking)),
            escape(_tip(src, dst, cell)),
            svgdraw.glyph(verdict, x + CELL / 2.0, y + 20, 18, ink),
            ''.join(svgdraw.text(x + CELL / 2.0, y + 46 + k * 12, line,
                                 CELL_TEXT_SIZE, anchor='middle',
                                 cls='cell-label', fill=ink)
                    for k, line in enumerate(cell_label(cell,
                                                        keys=keys)))))


def _swatch(verdict, x, y):
    fill = COLOURS[verdict]
    return '<g class="swatch" data-status=%s><rect x="%d" y="%d" ' \
        'width="16" height="16" fill="%s" stroke="#999999"/>%s</g>' % (
            quoteattr(verdict), x, y, fill,
            svgdraw.glyph(verdict, x + 8, y + 8, 11, svgdraw.ink(fill)))


def _legend_lines(matrix, groups=None, keys=None):
    """[(font size, text, class, verdict of a swatch or None)]."""
    groups = matrix.groups if groups is None else groups
    lines = [(LEGEND_SIZE, svgdraw.MEANING[v], 'legend', v)
             for v in ('ok', 'warn', 'refused', NOT_APPLICABLE)]
    if keys:
        lines.append((LEGEND_SIZE + 1, 'why refused (the key in a cell: '
                      'every blocking factor):', 'heading', None))
    for factors, key in sorted((keys or {}).items(),
                               key=lambda kv: int(kv[1][1:])):
        lines.append((LEGEND_SIZE, '%s: %s' % (key, ', '.join(factors)),
                      'reason', None))
    several = [g for g in groups if len(g.hosts) > 1]
    if several:
        lines.append((LEGEND_SIZE + 1, 'groups of identical hosts:',
                      'heading', None))
    for group in several:
        lines.append((LEGEND_SIZE, '%s = %s (%d host%s): %s' % (
            axis_name(group), group.label, len(group.hosts),
            '' if len(group.hosts) == 1 else 's', _short(group.names, 12)),
            'group', None))
    if matrix.left_out:
        lines.append((LEGEND_SIZE + 1, 'not in the matrix:', 'heading',
                      None))
    for host, why in matrix.left_out:
        lines.append((LEGEND_SIZE, '%s: %s' % (host.name, why), 'left-out',
                      None))
    return lines


def _legend_data(cls, line, groups):
    if cls != 'group':
        return ''
    for group in groups:
        if line.startswith(axis_name(group) + ' = %s ' % group.label):
            return 'data-group=%s' % quoteattr(group.label)
    return ''


def write(matrix, path, scope=None):
    """Write the picture; the format comes from the file name."""
    lower = path.lower()
    if lower.endswith('.svg'):
        data = svg(matrix, scope=scope).encode('utf-8')
    elif lower.endswith('.png'):
        data = _png(svg(matrix, scope=scope), path)
    else:
        raise InputError('--output %s: the picture is written as .svg (or '
                         '.png when cairosvg is installed); name the file '
                         'accordingly' % path)
    return svgdraw.write(path, data)


def _png(text, path):
    try:
        import cairosvg
    except ImportError:
        raise InputError('--output %s: PNG needs the optional cairosvg '
                         'package (pip install cairosvg); an .svg file '
                         'needs nothing' % path)
    return cairosvg.svg2png(bytestring=text.encode('utf-8'))
