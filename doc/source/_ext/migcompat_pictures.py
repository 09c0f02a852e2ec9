"""Sphinx extension: draw the demo fleet's pictures at build time.

At ``builder-inited`` the heat map and the compatibility graph of the
fleet bundled with ``migcompat demo`` are drawn by the project's own code
(:mod:`migcompat_filter.demo.pictures`) into ``doc/source/_generated/``
(not in git), so the pictures in the docs are always those of the current
code and data. Pages include them with ``.. image:: /_generated/NAME``.
"""

import os

MODES = ('host-model', 'host-passthrough')
OUTPUT = '_generated'


def draw(app):
    from migcompat_filter.demo import pictures
    directory = os.path.join(app.srcdir, OUTPUT)
    pictures.write(directory, modes=MODES)


def setup(app):
    app.connect('builder-inited', draw)
    return {'version': '1.0', 'parallel_read_safe': True,
            'parallel_write_safe': True}
