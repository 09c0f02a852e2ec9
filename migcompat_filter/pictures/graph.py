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

"""The fleet as a compatibility graph: a hand-written SVG.

A matrix of N groups stops being readable beyond about twenty; a graph
shows the islands (groups nothing can leave) and the one-way paths of a
rolling upgrade (old to new only) at a glance. Nodes are the groups of
identical hosts (:mod:`migcompat_filter.fleet.matrix`), on a circle, their
area growing with their host count and named by their first host
("milan-a (+1)"). An arrow A -> B means a guest on A can live-migrate to
B (B can receive from A). One arrow per compatible ordered pair of
different groups: a pair compatible both ways gets two arrows curving
apart, in grey; a pair compatible one way only gets one thick blue arrow
(the pair that stops being two-way after an upgrade); an arrow with
warnings is dashed. Every arrow is a ``path`` of class ``edge`` with
``data-source``/``data-destination`` group labels and a tooltip.
"""

import math

from xml.sax.saxutils import escape
from xml.sax.saxutils import quoteattr

from migcompat_filter.exception import InputError
from migcompat_filter.pictures import heatmap
from migcompat_filter.pictures import svgdraw

MARGIN = 12
LABEL_SIZE = 11
TITLE_SIZE = 14
LEGEND_SIZE = 11
TWO_WAY = '#666666'
#: Okabe-Ito blue: stands out from the grey without meaning "refused"
#: (vermillion does, in the heat map).
ONE_WAY = '#0072B2'
NODE_FILL = '#CFE3F2'
ARROW = 8


def node_radius(group):
    """Node radius in px: the area grows with the host count."""
    return 10 + 7 * math.sqrt(len(group.hosts))


def edges(matrix):
    """[(source group, destination group, cell, one_way)] for every
    compatible ordered pair of different groups.
    """
    out = []
    for src in matrix.groups:
        for dst in matrix.groups:
            if src is dst:
                continue
            cell = matrix.cell(src, dst)
            if cell.verdict.compatible:
                back = matrix.cell(dst, src).verdict.compatible
                out.append((src, dst, cell, not back))
    return out


def _ordered(matrix):
    """The groups, those connected by any arrow next to each other, so
    that an island sits together on the circle.
    """
    linked = {g.label: set() for g in matrix.groups}
    for src, dst, _cell, _one_way in edges(matrix):
        linked[src.label].add(dst.label)
        linked[dst.label].add(src.label)
    by_label = {g.label: g for g in matrix.groups}
    seen, out = set(), []
    for group in matrix.groups:
        todo = [group.label]
        while todo:
            label = todo.pop(0)
            if label in seen:
                continue
            seen.add(label)
            out.append(by_label[label])
            todo.extend(sorted(linked[label] - seen,
                               key=[g.label for g in matrix.groups].index))
    return out


def _layout(groups):
    """{label: (x, y, r)} on a circle centred on (0, 0)."""
    n = len(groups)
    radii = [node_radius(g) for g in groups]
    if n == 1:
        return {groups[0].label: (0.0, 0.0, radii[0])}
    spacing = 2 * max(radii + [0]) + 60
    ring = max(110.0, n * spacing / (2 * math.pi))
    out = {}
    for i, (group, r) in enumerate(zip(groups, radii)):
        angle = -math.pi / 2 + 2 * math.pi * i / n
        out[group.label] = (ring * math.cos(angle), ring * math.sin(angle),
                            r)
    return out


def _label(group, x, y, r):
    """(x, y, anchor, text) of the name beside its node, pointing away
    from the centre, and its bounding box (x0, y0, x1, y1).
    """
    name = svgdraw.fit(heatmap.axis_name(group), heatmap.AXIS_MAX,
                       LABEL_SIZE)
    width = svgdraw.text_width(name, LABEL_SIZE)
    dist = math.hypot(x, y) or 1.0
    ux, uy = x / dist, y / dist
    lx, ly = x + ux * (r + 6), y + uy * (r + 6) + LABEL_SIZE / 3.0
    if ux > 0.3:
        anchor, x0 = 'start', lx
    elif ux < -0.3:
        anchor, x0 = 'end', lx - width
    else:
        anchor, x0 = 'middle', lx - width / 2
        ly += uy * LABEL_SIZE * 0.6 + (LABEL_SIZE if uy > 0 else 0)
    return (lx, ly, anchor, name), (x0, ly - LABEL_SIZE, x0 + width,
                                    ly + 3)


def _curve(a, b, bend):
    """Path data from node a to node b (x, y, r), bent sideways by bend px,
    trimmed to the node circles (the arrow head ends on b's rim).
    """
    (x1, y1, r1), (x2, y2, r2) = a, b
    dx, dy = x2 - x1, y2 - y1
    dist = math.hypot(dx, dy) or 1.0
    ux, uy = dx / dist, dy / dist
    nx, ny = -uy, ux
    mx, my = (x1 + x2) / 2 + nx * bend, (y1 + y2) / 2 + ny * bend
    # Start and end where the line towards the control point leaves the
    # circles.
    sx, sy = _towards(x1, y1, mx, my, r1 + 2)
    ex, ey = _towards(x2, y2, mx, my, r2 + 2)
    return 'M%.1f %.1f Q%.1f %.1f %.1f %.1f' % (sx, sy, mx, my, ex, ey)


def _towards(x, y, tx, ty, dist):
    d = math.hypot(tx - x, ty - y) or 1.0
    return x + (tx - x) / d * dist, y + (ty - y) / d * dist


def svg(matrix, title='Live migration: which groups can receive guests '
        'from which'):
    """The SVG document (str) of a fleet.matrix.Matrix as a graph."""
    groups = _ordered(matrix)
    pos = _layout(groups)
    labels = {}
    box = [0.0, 0.0, 0.0, 0.0]
    for group in groups:
        x, y, r = pos[group.label]
        labels[group.label], lbox = _label(group, x, y, r)
        box = [min(box[0], x - r, lbox[0]), min(box[1], y - r, lbox[1]),
               max(box[2], x + r, lbox[2]), max(box[3], y + r, lbox[3])]
    mode = matrix.mode or "each source's own cpu_mode"
    subtitle = 'guest CPU mode: %s; an arrow A -> B: a guest on A can ' \
        'live-migrate to B' % mode
    top = MARGIN + TITLE_SIZE + 6 + LABEL_SIZE + 14
    ox, oy = MARGIN - box[0], top - box[1]
    body = [svgdraw.text(MARGIN, MARGIN + TITLE_SIZE, title, TITLE_SIZE,
                         cls='title'),
            svgdraw.text(MARGIN, MARGIN + TITLE_SIZE + 6 + LABEL_SIZE,
                         subtitle, LABEL_SIZE, cls='subtitle'),
            '<defs>%s%s</defs>' % (_marker('two-way', TWO_WAY),
                                   _marker('one-way', ONE_WAY))]
    for src, dst, cell, one_way in edges(matrix):
        a = _shift(pos[src.label], ox, oy)
        b = _shift(pos[dst.label], ox, oy)
        kind = 'one-way' if one_way else 'two-way'
        tip = '%s -> %s: %s%s' % (
            heatmap.axis_name(src), heatmap.axis_name(dst), cell.text(),
            '; not the other way' if one_way else '')
        body.append(
            '<path class="edge %s" d="%s" fill="none" stroke="%s" '
            'stroke-width="%s"%s marker-end="url(#arrow-%s)" '
            'data-source=%s data-destination=%s data-status=%s>'
            '<title>%s</title></path>' % (
                kind, _curve(a, b, 0 if one_way else 14),
                ONE_WAY if one_way else TWO_WAY,
                '3' if one_way else '1.5',
                ' stroke-dasharray="6 3"' if cell.status == 'warn' else '',
                kind, quoteattr(src.label), quoteattr(dst.label),
                quoteattr(cell.status), escape(tip)))
    for group in groups:
        x, y, r = _shift(pos[group.label], ox, oy)
        lx, ly, anchor, name = labels[group.label]
        body.append(
            '<g class="node" data-group=%s data-hosts="%d"><circle cx="%.1f" '
            'cy="%.1f" r="%.1f" fill="%s" stroke="#1F4E79" stroke-width="1.5">'
            '<title>%s: %s</title></circle>%s%s</g>' % (
                quoteattr(group.label), len(group.hosts), x, y, r, NODE_FILL,
                escape(group.label), escape(', '.join(group.names)),
                svgdraw.text(x, y + LABEL_SIZE / 3.0, str(len(group.hosts)),
                             LABEL_SIZE, anchor='middle', cls='count'),
                svgdraw.text(lx + ox, ly + oy, name, LABEL_SIZE,
                             anchor=anchor, cls='node-label')))
    y = oy + box[3] + 10
    width = ox + box[2]
    for line, cls in _legend(matrix):
        y += LEGEND_SIZE + 6
        body.append(svgdraw.text(MARGIN, y, line, LEGEND_SIZE, cls=cls))
        width = max(width, MARGIN + svgdraw.text_width(line, LEGEND_SIZE))
    width = max(width, MARGIN + svgdraw.text_width(title, TITLE_SIZE),
                MARGIN + svgdraw.text_width(subtitle, LABEL_SIZE))
    return svgdraw.document(int(width + MARGIN + 0.999), int(y + MARGIN),
                            title, body)


def _shift(p, ox, oy):
    return p[0] + ox, p[1] + oy, p[2]


def _marker(kind, colour):
    return '<marker id="arrow-%s" viewBox="0 0 10 10" refX="9" refY="5" ' \
        'markerUnits="userSpaceOnUse" markerWidth="%d" markerHeight="%d" ' \
        'orient="auto"><path d="M0 0 L10 5 L0 10 z" fill="%s"/></marker>' \
        % (kind, ARROW + 2, ARROW + 2, colour)


def _legend(matrix):
    """[(text, class)] under the graph."""
    found = edges(matrix)
    one_way = sum(1 for e in found if e[3])
    lines = [
        ('thick blue arrow: one way only (%d); grey pair of arrows: both '
         'ways (%d); dashed: with warnings' % (
             one_way, (len(found) - one_way) // 2), 'legend'),
        ('node: a group of identical hosts, its number of hosts inside; '
         'no arrow: refused', 'legend'),
    ]
    islands = [heatmap.axis_name(g) for g in matrix.groups
               if not any(e[0] is g for e in found)]
    if islands and len(matrix.groups) > 1:
        lines.append(('no way out for guests on: %s'
                      % ', '.join(islands), 'islands'))
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
