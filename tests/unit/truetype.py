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

"""Advance widths straight from a TrueType font file (no font library).

Reads the table directory, ``head`` (units per em), ``hhea`` (how many
metrics), ``hmtx`` (advance widths) and a format 4 ``cmap`` subtable
(Unicode BMP to glyph), which is all it takes to know how wide a renderer
sets a string in that font, kerning aside.
"""

import struct


class Font(object):

    def __init__(self, path):
        with open(path, 'rb') as f:
            self.data = f.read()
        count = struct.unpack('>H', self.data[4:6])[0]
        self.tables = {}
        for i in range(count):
            tag, _sum, offset, length = struct.unpack(
                '>4sIII', self.data[12 + 16 * i:28 + 16 * i])
            self.tables[tag.decode('ascii')] = (offset, length)
        self.units_per_em = struct.unpack(
            '>H', self._table('head')[18:20])[0]
        metrics = struct.unpack('>H', self._table('hhea')[34:36])[0]
        hmtx = self._table('hmtx')
        self.advances = [struct.unpack('>H', hmtx[4 * i:4 * i + 2])[0]
                         for i in range(metrics)]
        self.cmap = self._cmap4()

    def _table(self, tag):
        offset, length = self.tables[tag]
        return self.data[offset:offset + length]

    def _cmap4(self):
        cmap = self._table('cmap')
        base = self.tables['cmap'][0]
        count = struct.unpack('>H', cmap[2:4])[0]
        for i in range(count):
            platform, encoding, offset = struct.unpack(
                '>HHI', cmap[4 + 8 * i:12 + 8 * i])
            if (platform, encoding) in ((3, 1), (0, 3)):
                sub = self.data[base + offset:]
                if struct.unpack('>H', sub[0:2])[0] == 4:
                    return _format4(sub)
        raise ValueError('no Unicode BMP cmap subtable')

    def width(self, text, size):
        """Width in px of text at font size px."""
        total = 0
        for ch in text:
            glyph = self.cmap.get(ord(ch), 0)
            total += self.advances[min(glyph, len(self.advances) - 1)]
        return total * size / float(self.units_per_em)


def _format4(sub):
    segs = struct.unpack('>H', sub[6:8])[0] // 2
    at = 14
    ends = struct.unpack('>%dH' % segs, sub[at:at + 2 * segs])
    at += 2 * segs + 2
    starts = struct.unpack('>%dH' % segs, sub[at:at + 2 * segs])
    at += 2 * segs
    deltas = struct.unpack('>%dh' % segs, sub[at:at + 2 * segs])
    at += 2 * segs
    range_at = at
    offsets = struct.unpack('>%dH' % segs, sub[at:at + 2 * segs])
    out = {}
    for i in range(segs):
        for code in range(starts[i], ends[i] + 1):
            if code == 0xFFFF:
                continue
            if offsets[i] == 0:
                glyph = (code + deltas[i]) & 0xFFFF
            else:
                pos = (range_at + 2 * i + offsets[i] +
                       2 * (code - starts[i]))
                glyph = struct.unpack('>H', sub[pos:pos + 2])[0]
                if glyph:
                    glyph = (glyph + deltas[i]) & 0xFFFF
            out[code] = glyph
    return out
