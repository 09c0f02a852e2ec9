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

"""Reading the SVG pictures back in the tests: the parsed tree, the texts
of a class, the box a text covers.
"""

from defusedxml import ElementTree

from migcompat_filter.pictures import svgdraw

NS = '{http://www.w3.org/2000/svg}'


def parse(text):
    return ElementTree.fromstring(text.encode('utf-8'))


def texts(root, cls):
    return [t for t in root.iter(NS + 'text') if t.get('class') == cls]


def text_box(t):
    """(x0, y0, x1, y1) of an unrotated text element, by its anchor."""
    x, y = float(t.get('x')), float(t.get('y'))
    size = float(t.get('font-size'))
    width = svgdraw.text_width(t.text or '', size)
    start = {'start': x, 'middle': x - width / 2, 'end': x - width}[
        t.get('text-anchor', 'start')]
    # Descenders reach about a quarter of the size below the baseline.
    return start, y - size, start + width, y + size / 4.0
