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

"""The fleet as a compatibility graph: a hand-written SVG, layered.

A matrix of N groups stops being readable beyond about twenty; a graph
shows the islands (groups nothing can leave) and the one-way paths of a
rolling upgrade (old to new only) at a glance. An arrow A -> B means a
guest on A can live-migrate to B.

It is drawn as an order, not a hairball:

* groups whose guests can reach each other both ways (a strongly
  connected set: identical twins, hosts of one QEMU) share one box, one
  line per group, named by its hosts ("milan-a (+1)");
* between boxes only the transitive reduction is drawn: an arrow where no
  longer path says it already (A -> B -> C hides A -> C);
* boxes are layered by how far their guests can still move up: the most
  capable hosts (those that receive from the others) on top, every arrow
  points upwards, and a layer is ordered by where its arrows go (fewer
  crossings);
* boxes with no arrow at all stand in a last row, "no live migration to
  or from".

Every arrow is a ``path`` of class ``edge`` with ``data-source`` and
``data-destination`` (the boxes' first group labels) and a tooltip; every
box a ``g`` of class ``node`` with ``data-groups`` (its group labels) and
one ``text`` of class ``node-label`` per group, carrying ``data-group``
and ``data-hosts``.
"""

from xml.sax.saxutils import escape
from xml.sax.saxutils import quoteattr

from migcompat_filter.exception import InputError
from migcompat_filter.pictures import heatmap
from migcompat_filter.pictures import svgdraw

MARGIN = 12
LABEL_SIZE = 11
TITLE_SIZE = 14
LEGEND_SIZE = 11
ONE_WAY = '#0072B2'
NODE_FILL = '#CFE3F2'
ARROW = 8
PAD = 6
LINE = LABEL_SIZE + 4
GAP_X = 24
GAP_Y = 56
MAX_ROW = 8


def reach(matrix):
    """{(a, b)}: a guest on group a reaches group b in one or more live
    migrations (labels).
    """
    labels = [g.label for g in matrix.groups]
    can = {(a.label, b.label) for a in matrix.groups for b in matrix.groups
           if a is not b and matrix.cell(a, b).verdict.compatible}
    for k in labels:  # Warshall's closure
        for i in labels:
            if (i, k) in can:
                for j in labels:
                    if (k, j) in can and i != j:
                        can.add((i, j))
    return can


def boxes(matrix):
    """[[group, ...]]: the strongly connected sets of groups, in the
    matrix's order.
    """
    closure = reach(matrix)
    out, seen = [], set()
    for g in matrix.groups:
        if g.label in seen:
            continue
        box = [g] + [h for h in matrix.groups if h is not g and
                     (g.label, h.label) in closure and
                     (h.label, g.label) in closure]
        seen.update(h.label for h in box)
        out.append(box)
    return out


def reduced_edges(matrix, box_list=None):
    """[(source box index, destination box index)]: the transitive
    reduction of the order between boxes.
    """
    box_list = boxes(matrix) if box_list is None else box_list
    closure = reach(matrix)
    first = [b[0].label for b in box_list]
    n = len(box_list)
    up = {(i, j) for i in range(n) for j in range(n)
          if i != j and (first[i], first[j]) in closure}
    return sorted((i, j) for (i, j) in up
                  if not any((i, k) in up and (k, j) in up
                             for k in range(n) if k not in (i, j)))


def _layers(n, edges):
    """{box: layer}: 0 for a box nothing leaves (on top), else one more
    than the highest layer its arrows reach... the longest way up.
    """
    out_edges = {i: [j for a, j in edges if a == i] for i in range(n)}
    layer = {}

    def depth(i):
        if i not in layer:
            layer[i] = 0
            layer[i] = 1 + max([depth(j) for j in out_edges[i]] + [-1])
        return layer[i]
    for i in range(n):
        depth(i)
    return layer


def _box_size(box):
    names = [heatmap.axis_name(g) for g in box]
    width = max(svgdraw.text_width(t, LABEL_SIZE) for t in names)
    return width + 2 * PAD, len(names) * LINE + 2 * PAD - 4


def _layout(box_list, edges):
    """{box: (x, y, w, h)} (top-left corners), and the canvas size."""
    n = len(box_list)
    linked = {i for e in edges for i in e}
    layer = _layers(n, edges)
    rows, pos = {}, {}
    for i in range(n):
        rows.setdefault(layer[i] if i in linked else None, []).append(i)
    order = sorted(k for k in rows if k is not None)
    if None in rows:
        order.append(None)
    # A layer wider than MAX_ROW boxes goes on several lines.
    lines = []
    for key in order:
        row = rows[key]
        if key:  # order by where the arrows of the row go (barycentre)
            def centre(i):
                xs = [pos[j][0] + pos[j][2] / 2.0 for a, j in edges
                      if a == i and j in pos]
                return sum(xs) / len(xs) if xs else 0.0
            row.sort(key=centre)
        lines.extend(row[k:k + MAX_ROW] for k in range(0, len(row), MAX_ROW))
        for i in row:  # placed below, but known for the next barycentres
            pos.setdefault(i, (row.index(i) * 100.0, 0.0, 0.0, 0.0))
    pos, y, width = {}, 0.0, 0.0
    for row in lines:
        x, height = 0.0, 0.0
        for i in row:
            w, h = _box_size(box_list[i])
            pos[i] = (x, y, w, h)
            x += w + GAP_X
            height = max(height, h)
        width = max(width, x - GAP_X)
        y += height + GAP_Y
    # Centre each row.
    for row in lines:
        right = max(pos[i][0] + pos[i][2] for i in row)
        shift = (width - right) / 2.0
        for i in row:
            x, yy, w, h = pos[i]
            pos[i] = (x + shift, yy, w, h)
    return pos, width, y - GAP_Y, rows.get(None, [])


def svg(matrix, title='Live migration: which hosts can receive guests '
        'from which (most capable on top)'):
    """The SVG document (str) of a fleet.matrix.Matrix as a graph."""
    box_list = boxes(matrix)
    edges = reduced_edges(matrix, box_list)
    pos, gw, gh, loose = _layout(box_list, edges)
    mode, mode_note = heatmap.mode_text(matrix)
    subtitle = 'guest CPU mode: %s; an arrow A -> B: a guest on A can ' \
        'live-migrate to B (and, following arrows, further up)' % mode
    top = MARGIN + TITLE_SIZE + 6 + LABEL_SIZE + 16
    body = [svgdraw.text(MARGIN, MARGIN + TITLE_SIZE, title, TITLE_SIZE,
                         cls='title'),
            svgdraw.text(MARGIN, MARGIN + TITLE_SIZE + 6 + LABEL_SIZE,
                         subtitle, LABEL_SIZE, cls='subtitle'),
            '<defs>%s</defs>' % _marker('one-way', ONE_WAY)]
    if mode_note:
        body.append(svgdraw.text(MARGIN, top - 16 + LABEL_SIZE + 4,
                                 mode_note, LABEL_SIZE, cls='mode-note'))
        top += LABEL_SIZE + 4
    ox, oy = MARGIN, top
    for i, j in edges:
        sx, sy, sw, _sh = pos[i]
        dx, dy, dw, dh = pos[j]
        src, dst = box_list[i][0], box_list[j][0]
        cell = matrix.cell(src, dst)
        tip = '%s -> %s: %s' % (_names(box_list[i]), _names(box_list[j]),
                                cell.text() if cell.verdict.compatible
                                else 'through the boxes between')
        body.append(
            '<path class="edge one-way" d="M%.1f %.1f L%.1f %.1f" '
            'fill="none" stroke="%s" stroke-width="2"%s '
            'marker-end="url(#arrow-one-way)" data-source=%s '
            'data-destination=%s><title>%s</title></path>' % (
                ox + _clamp(dx + dw / 2.0, sx, sw), oy + sy - 2,
                ox + _clamp(sx + sw / 2.0, dx, dw), oy + dy + dh + 2,
                ONE_WAY,
                ' stroke-dasharray="6 3"' if cell.status == 'warn' else '',
                quoteattr(src.label), quoteattr(dst.label), escape(tip)))
    for i, box in enumerate(box_list):
        x, y, w, h = pos[i]
        x, y = x + ox, y + oy
        lines = ''.join(
            svgdraw.text(x + PAD, y + PAD + (k + 1) * LINE - 4,
                         heatmap.axis_name(g), LABEL_SIZE, cls='node-label',
                         extra='data-group=%s data-hosts="%d"'
                         % (quoteattr(g.label), len(g.hosts)))
            for k, g in enumerate(box))
        body.append(
            '<g class="node" data-groups=%s><rect x="%.1f" y="%.1f" '
            'width="%.1f" height="%.1f" rx="5" fill="%s" stroke="#1F4E79" '
            'stroke-width="1.5"><title>%s</title></rect>%s</g>' % (
                quoteattr(' '.join(g.label for g in box)), x, y, w, h,
                NODE_FILL, escape(_names(box, full=True)), lines))
    y = oy + gh + 14
    width = ox + gw
    for line, cls in _legend(matrix, box_list, edges, loose):
        y += LEGEND_SIZE + 6
        body.append(svgdraw.text(MARGIN, y, line, LEGEND_SIZE, cls=cls))
        width = max(width, MARGIN + svgdraw.text_width(line, LEGEND_SIZE))
    width = max(width, MARGIN + svgdraw.text_width(title, TITLE_SIZE),
                MARGIN + svgdraw.text_width(subtitle, LABEL_SIZE),
                MARGIN + svgdraw.text_width(mode_note or '', LABEL_SIZE))
    return svgdraw.document(int(width + MARGIN + 0.999), int(y + MARGIN),
                            title, body)


def _clamp(x, left, width):
    """x moved inside [left + 8, left + width - 8]: an arrow leaves and
    reaches a box under the other end, so heads do not pile up.
    """
    return min(max(x, left + min(8, width / 2.0)),
               left + width - min(8, width / 2.0))


def _names(box, full=False):
    if full:
        return '; '.join('%s: %s' % (g.label, ', '.join(g.names))
                         for g in box)
    return ', '.join(heatmap.axis_name(g) for g in box)


def _marker(kind, colour):
    return '<marker id="arrow-%s" viewBox="0 0 10 10" refX="9" refY="5" ' \
        'markerUnits="userSpaceOnUse" markerWidth="%d" markerHeight="%d" ' \
        'orient="auto"><path d="M0 0 L10 5 L0 10 z" fill="%s"/></marker>' \
        % (kind, ARROW + 2, ARROW + 2, colour)


def _legend(matrix, box_list, edges, loose):
    """[(text, class)] under the graph."""
    lines = [
        ('arrow: guests move up one way (%d arrows, the shortest; follow '
         'them for the rest); dashed: with warnings' % len(edges),
         'legend'),
        ('box: groups whose guests can move among them both ways; one '
         'line per group of identical hosts', 'legend'),
    ]
    if loose and len(box_list) > 1:
        lines.append(('last row: no live migration to or from: %s'
                      % ', '.join(_names(box_list[i]) for i in loose),
                      'islands'))
    sources = {i for i, _j in edges}
    stuck = [_names(b) for i, b in enumerate(box_list)
             if i not in sources and len(b) == 1 and len(box_list) > 1]
    if stuck:
        lines.append(('no way out for guests on: %s' % ', '.join(stuck),
                      'islands'))
    several = [g for g in matrix.groups if len(g.hosts) > 1]
    for g in several:
        lines.append(('%s = %s' % (heatmap.axis_name(g), ', '.join(g.names)),
                      'group'))
    for host, why in matrix.left_out:
        lines.append(('not in the graph: %s: %s' % (host.name, why),
                      'left-out'))
    return lines


def write(matrix, path):
    """Write the graph as SVG (the file name must end in .svg)."""
    if not path.lower().endswith('.svg'):
        raise InputError('--graph %s: the graph is written as SVG; name the '
                         'file *.svg' % path)
    return svgdraw.write(path, svg(matrix).encode('utf-8'), '--graph')
