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

"""Sphinx extension: draw the demo fleet's pictures at build time.

At ``builder-inited`` the heat map and the compatibility graph of the
fleet bundled with ``migcompat demo`` are drawn by the project's own code
(:mod:`migcompat_filter.demo.pictures`) into ``doc/source/_generated/``
(not in git), so the pictures in the docs are always those of the current
code and data, each also as a PNG (to paste into a ticket) when cairosvg
or rsvg-convert is there. Pages include them with ``.. image::
/_generated/NAME``.
"""

import os

MODES = ('host-model', 'host-passthrough')
OUTPUT = '_generated'


def draw(app):
    from migcompat_filter.demo import pictures
    directory = os.path.join(app.srcdir, OUTPUT)
    pictures.write(directory, modes=MODES)
    # The numbers demo.rst quotes, from the current code and data.
    pictures.write_excerpt(directory, modes=MODES)
    pngs = []
    for name in sorted(os.listdir(directory)):
        if name.endswith('.svg'):
            png = to_png(os.path.join(directory, name))
            if png:
                pngs.append(os.path.basename(png))
    # demo.rst includes this: links to the PNGs that could be made.
    with open(os.path.join(directory, 'pngs.rst'), 'w') as f:
        if pngs:
            f.write('Each picture as a PNG, to paste into a ticket: %s.\n'
                    % ', '.join(':download:`%s </_generated/%s>`' % (n, n)
                                for n in pngs))
        else:
            f.write('(The PNG versions need cairosvg or rsvg-convert.)\n')


def to_png(path):
    """NAME.png beside NAME.svg (white background: a picture pasted into
    a ticket), with cairosvg or else rsvg-convert; neither installed
    leaves the SVG alone.
    """
    import shutil
    import subprocess
    png = path[:-len('.svg')] + '.png'
    try:
        import cairosvg
    except ImportError:
        cairosvg = None
    if cairosvg is not None:
        cairosvg.svg2png(url=path, write_to=png, background_color='white')
    elif shutil.which('rsvg-convert'):
        subprocess.run(['rsvg-convert', '-b', 'white', '-o', png, path],
                       check=True, timeout=120)
    else:
        return None
    return png


def setup(app):
    app.connect('builder-inited', draw)
    return {'version': '1.0', 'parallel_read_safe': True,
            'parallel_write_safe': True}
