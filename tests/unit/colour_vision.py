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

"""Colour-vision deficiency simulation, to check the pictures' palette.

Machado, Oliveira and Fernandes, "A Physiologically-based Model for
Simulation of Color Vision Deficiency" (IEEE TVCG 2009): the severity 1.0
matrices, applied to linear sRGB; distances are CIE76 Delta E in CIELAB
(D65). A Delta E above about 10 is a difference anyone notices.
"""

MACHADO = {
    'protanopia': ((0.152286, 1.052583, -0.204868),
                   (0.114503, 0.786281, 0.099216),
                   (-0.003882, -0.048116, 1.051998)),
    'deuteranopia': ((0.367322, 0.860646, -0.227968),
                     (0.280085, 0.672501, 0.047413),
                     (-0.011820, 0.042940, 0.968881)),
    'tritanopia': ((1.255528, -0.076749, -0.178779),
                   (-0.078411, 0.930809, 0.147602),
                   (0.004733, 0.691367, 0.303900)),
    'normal': ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
}


def lin(c):
    c /= 255.0
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def lab(rgb):
    r, g, b = rgb
    x = 0.4124 * r + 0.3576 * g + 0.1805 * b
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = 0.0193 * r + 0.1192 * g + 0.9505 * b

    def f(t):
        return t ** (1 / 3.0) if t > 0.008856 else 7.787 * t + 16 / 116.0
    fx, fy, fz = f(x / 0.95047), f(y), f(z / 1.08883)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def simulate(colour, kind):
    rgb = [lin(int(colour[i:i + 2], 16)) for i in (1, 3, 5)]
    m = MACHADO[kind]
    out = [min(1.0, max(0.0, sum(m[i][j] * rgb[j] for j in range(3))))
           for i in range(3)]
    return lab(out)


def delta(a, b, kind):
    """Delta E of two #rrggbb colours as a viewer with kind sees them."""
    la, lb = simulate(a, kind), simulate(b, kind)
    return sum((p - q) ** 2 for p, q in zip(la, lb)) ** 0.5
