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

"""What the SVG pictures (heat map, fleet graph) share: text measured
without a font engine, a colour-blind-safe palette, a glyph per verdict.

No dependency: a picture is laid out from measured text, so the canvas
fits its content and no label leaves its box when the SVG is rendered to
a PNG for a ticket.

Text is measured with, per character, the wider of the advance widths of
Helvetica (Arial and Liberation Sans share its metrics) and DejaVu Sans
(what ``sans-serif`` is on most Linux systems), plus a small margin for
hinting (:data:`FALLBACK_SCALE`): a label measured to fit fits in any of
the fonts the SVG names. Characters outside ASCII count as a full em.
"""

import re
from xml.sax.saxutils import escape
from xml.sax.saxutils import quoteattr

from migcompat_filter.exception import InputError

FONT_FAMILY = 'DejaVu Sans, Arial, Helvetica, sans-serif'
FONT = 'font-family=%s' % quoteattr(FONT_FAMILY)
#: Renderers round glyph advances to whole pixels at small sizes.
FALLBACK_SCALE = 1.04
ELLIPSIS = '\u2026'

# Advance widths in 1/1000 em, ASCII 32 (space) to 126 (~): per character
# the wider of Helvetica (Adobe's AFM metrics; Arial and Liberation Sans
# share them) and DejaVu Sans (its hmtx table).
_WIDTHS = [
    318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318,
    337, 636, 636, 636, 636, 636, 636, 636, 636, 636, 636, 337, 337, 838, 838,
    838, 556, 1015, 684, 686, 722, 770, 667, 611, 778, 752, 295, 500, 667,
    557, 863, 748, 787, 667, 787, 722, 667, 611, 732, 684, 989, 685, 667, 685,
    390, 337, 390, 838, 556, 500, 613, 635, 550, 635, 615, 352, 635, 634, 278,
    278, 579, 278, 974, 634, 612, 635, 635, 411, 521, 392, 634, 592, 818, 592,
    592, 525, 636, 337, 636, 838,
]


def text_width(text, size):
    """The width in px of text at font size px (an upper bound, see the
    module doc).
    """
    units = 0
    for ch in text:
        code = ord(ch)
        units += _WIDTHS[code - 32] if 32 <= code <= 126 else 1000
    return units * size * FALLBACK_SCALE / 1000.0


def fit(text, width, size):
    """text, cut with an ellipsis so that it is at most width px wide."""
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + ELLIPSIS, size) > width:
        text = text[:-1]
    return text + ELLIPSIS if text else ''


def text(x, y, content, size, anchor='start', cls=None, fill='#000000',
         extra=''):
    """One <text> element (content escaped)."""
    # The font family is the document's (inherited), see document().
    return '<text%s x="%.1f" y="%.1f" font-size="%d"%s%s%s>%s</text>' % (
        ' class=%s' % quoteattr(cls) if cls else '', x, y, size,
        '' if anchor == 'start' else ' text-anchor="%s"' % anchor,
        '' if fill == '#000000' else ' fill="%s"' % fill,
        ' ' + extra if extra else '', escape(content))


#: Okabe & Ito's palette for colour-vision deficiencies (Color Universal
#: Design, 2008), one colour per verdict; the glyphs below tell the
#: verdicts apart without any colour at all.
#: Okabe-Ito hues, lightened (ok) and darkened (refused) so that the two
#: verdicts differ in luminance too (3.8:1): a greyscale print or a
#: greyscale reader tells them apart without the glyphs.
PALETTE = {
    'ok': '#6CD4AE',       # light bluish green
    'warn': '#F0E442',     # yellow
    'refused': '#9E3A00',  # dark vermillion
    'n/a': '#E8E8E8',      # light grey: not a migration at all
}

#: Glyph names per verdict: a check, an exclamation mark, a cross and a
#: dash, drawn as paths so that no font needs to have them.
GLYPHS = {'ok': 'check', 'warn': 'bang', 'refused': 'cross', 'n/a': 'dash'}
MEANING = {
    'ok': 'can migrate',
    'warn': 'can migrate, with warnings',
    'refused': 'refused (its key R1, R2... lists the blocking factors)',
    'n/a': 'n/a: a host does not migrate to itself',
}


def luminance(colour):
    """WCAG relative luminance of #rrggbb."""
    def channel(c):
        c = c / 255.0
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a, b):
    """WCAG contrast ratio of two #rrggbb colours (1 to 21)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def ink(background):
    """Black or white, whichever reads better on the background."""
    return max(('#000000', '#FFFFFF'), key=lambda c: contrast(c, background))


def glyph(status, cx, cy, size, colour):
    """An SVG group drawing the verdict's glyph centred on (cx, cy), size
    px high, carrying data-glyph.
    """
    h = size / 2.0
    w = max(1.5, size / 7.0)
    name = GLYPHS[status]
    common = 'fill="none" stroke="%s" stroke-width="%.1f" ' \
        'stroke-linecap="round" stroke-linejoin="round"' % (colour, w)
    if name == 'check':
        body = '<path d="M%.1f %.1f L%.1f %.1f L%.1f %.1f" %s/>' % (
            cx - h * 0.8, cy, cx - h * 0.2, cy + h * 0.6, cx + h * 0.8,
            cy - h * 0.6, common)
    elif name == 'cross':
        body = '<path d="M%.1f %.1f L%.1f %.1f M%.1f %.1f L%.1f %.1f" ' \
            '%s/>' % (cx - h * 0.6, cy - h * 0.6, cx + h * 0.6,
                      cy + h * 0.6, cx + h * 0.6, cy - h * 0.6,
                      cx - h * 0.6, cy + h * 0.6, common)
    elif name == 'bang':
        body = '<path d="M%.1f %.1f L%.1f %.1f" %s/><circle cx="%.1f" ' \
            'cy="%.1f" r="%.1f" fill="%s"/>' % (
                cx, cy - h * 0.8, cx, cy + h * 0.25, common, cx,
                cy + h * 0.7, w * 0.7, colour)
    else:
        body = '<path d="M%.1f %.1f L%.1f %.1f" %s/>' % (
            cx - h * 0.5, cy, cx + h * 0.5, cy, common)
    return '<g class="glyph" data-glyph="%s">%s</g>' % (name, body)


#: Characters XML 1.0 does not allow, even escaped (control characters,
#: lone surrogates, U+FFFE/U+FFFF): a host name or reason carrying one
#: would make the whole picture unreadable.
_NOT_XML = re.compile('[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]')


def document(width, height, title, body):
    """The whole SVG document: a white canvas of width x height (any
    character XML cannot carry shown as U+FFFD).
    """
    return _NOT_XML.sub('\ufffd', '\n'.join([
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<svg xmlns="http://www.w3.org/2000/svg" version="1.1" '
        'width="%d" height="%d" viewBox="0 0 %d %d" %s>'
        % (width, height, width, height, FONT),
        '<title>%s</title>' % escape(title),
        '<rect x="0" y="0" width="%d" height="%d" fill="#FFFFFF"/>'
        % (width, height)] + body + ['</svg>'])) + '\n'


def write(path, data, option='--output'):
    """Write the picture bytes; an InputError naming the file on failure."""
    try:
        with open(path, 'wb') as f:
            f.write(data)
    except OSError as e:
        raise InputError('%s %s: cannot be written: %s'
                         % (option, path, e.strerror or e))
    return path
