"""The live-migration matrix as a picture: a hand-written SVG heat map.

Rows are source groups, columns destination groups (a group is a set of
hosts with identical profiles, see :mod:`migcompat_filter.fleet.matrix`).
A cell is green when guests can move, amber when they can with warnings,
red when something blocks, and names the blocking factors. Every cell is
a ``rect`` carrying ``data-source``, ``data-destination``,
``data-status`` and ``data-blocking`` attributes and a ``title``
tooltip, so the picture can be checked (and scripted) as data. No
dependency: SVG is text.
"""

from xml.sax.saxutils import escape
from xml.sax.saxutils import quoteattr

from migcompat_filter.exception import InputError

COLOURS = {'ok': '#4caf50', 'warn': '#ffb300', 'refused': '#e53935'}
CELL = 56
LABEL = 70
FONT = 'font-family="sans-serif"'


def _short(names, limit=3):
    if len(names) <= limit:
        return ', '.join(names)
    return '%s, ... (+%d)' % (', '.join(names[:limit]), len(names) - limit)


def _cell_label(cell):
    if cell.status == 'refused':
        blocking = cell.blocking
        first = blocking[0] if blocking else 'refused'
        if len(first) > 9:
            first = first[:8] + '.'
        return first + ('+%d' % (len(blocking) - 1)
                        if len(blocking) > 1 else '')
    return 'ok' if cell.status == 'ok' else 'warn'


def svg(matrix, title='live migration: source (row) to destination '
        '(column)'):
    """The SVG document (str) of a fleet.matrix.Matrix."""
    groups = matrix.groups
    n = len(groups)
    legend_lines = len(groups) + len(matrix.left_out) + 4
    # Wide enough for the grid and (roughly, 6.5 px a character) the
    # longest legend line.
    longest = max([len(', '.join(g.names)) + 12 for g in groups] +
                  [len(h.name) + len(why) + 2 for h, why in matrix.left_out]
                  + [0])
    width = max(LABEL + n * CELL + 40, 640, int(longest * 6.5) + 20)
    top = 60
    height = top + LABEL + n * CELL + 20 + legend_lines * 16
    mode = matrix.mode or 'each source\'s own cpu_mode'
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<svg xmlns="http://www.w3.org/2000/svg" version="1.1" '
           'width="%d" height="%d" viewBox="0 0 %d %d">'
           % (width, height, width, height),
           '<title>%s</title>' % escape(title),
           '<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>'
           % (width, height),
           '<text x="10" y="20" %s font-size="14">%s</text>'
           % (FONT, escape(title)),
           '<text x="10" y="38" %s font-size="11">mode: %s; green: can '
           'migrate, amber: can with warnings, red: refused (the blocking '
           'factor)</text>' % (FONT, escape(mode)),
           ]
    x0, y0 = LABEL, top + LABEL
    for j, dst in enumerate(groups):
        x = x0 + j * CELL + CELL // 2
        out.append('<text class="column" x="%d" y="%d" %s font-size="12" '
                   'text-anchor="middle">%s</text>'
                   % (x, y0 - 8, FONT, escape(dst.label)))
    for i, src in enumerate(groups):
        y = y0 + i * CELL
        out.append('<text class="row" x="%d" y="%d" %s font-size="12" '
                   'text-anchor="end">%s</text>'
                   % (x0 - 8, y + CELL // 2 + 4, FONT, escape(src.label)))
        for j, dst in enumerate(groups):
            cell = matrix.cell(src, dst)
            x = x0 + j * CELL
            tip = '%s (%s) -> %s (%s): %s%s' % (
                src.label, _short(src.names), dst.label, _short(dst.names),
                cell.text(), ': ' + cell.reason() if cell.reason() else '')
            out.append(
                '<g><rect class="cell" x="%d" y="%d" width="%d" height="%d" '
                'fill="%s" stroke="#ffffff" data-source=%s '
                'data-destination=%s data-status=%s data-blocking=%s>'
                '<title>%s</title></rect>'
                '<text x="%d" y="%d" %s font-size="9" text-anchor="middle" '
                'fill="#000000">%s</text></g>'
                % (x, y, CELL, CELL, COLOURS[cell.status],
                   quoteattr(src.label), quoteattr(dst.label),
                   quoteattr(cell.status),
                   quoteattr(','.join(cell.blocking)), escape(tip),
                   x + CELL // 2, y + CELL // 2 + 3, FONT,
                   escape(_cell_label(cell))))
    y = y0 + n * CELL + 24
    out.append('<text x="10" y="%d" %s font-size="12">groups of identical '
               'hosts:</text>' % (y, FONT))
    for group in groups:
        y += 16
        out.append('<text class="group" data-group=%s x="10" y="%d" %s '
                   'font-size="11">%s (%d): %s</text>'
                   % (quoteattr(group.label), y, FONT, escape(group.label),
                      len(group.hosts), escape(', '.join(group.names))))
    if matrix.left_out:
        y += 20
        out.append('<text x="10" y="%d" %s font-size="12">not in the '
                   'matrix:</text>' % (y, FONT))
        for host, why in matrix.left_out:
            y += 16
            out.append('<text class="left-out" x="10" y="%d" %s '
                       'font-size="11">%s: %s</text>'
                       % (y, FONT, escape(host.name), escape(why)))
    out.append('</svg>')
    return '\n'.join(out) + '\n'


def write(matrix, path):
    """Write the picture; the format comes from the file name."""
    lower = path.lower()
    if lower.endswith('.svg'):
        data = svg(matrix).encode('utf-8')
    elif lower.endswith('.png'):
        data = _png(svg(matrix), path)
    else:
        raise InputError('--output %s: the picture is written as .svg (or '
                         '.png when cairosvg is installed); name the file '
                         'accordingly' % path)
    try:
        with open(path, 'wb') as f:
            f.write(data)
    except OSError as e:
        raise InputError('--output %s: cannot be written: %s'
                         % (path, e.strerror or e))
    return path


def _png(text, path):
    try:
        import cairosvg
    except ImportError:
        raise InputError('--output %s: PNG needs the optional cairosvg '
                         'package (pip install cairosvg); an .svg file '
                         'needs nothing' % path)
    return cairosvg.svg2png(bytestring=text.encode('utf-8'))
