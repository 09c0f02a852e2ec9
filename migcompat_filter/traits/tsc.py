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

"""The calibrated TSC frequency as schema 3 publishes it: three trait
names shared by every host in the same bucket, none unique to a host.

``k = floor(ln(Hz) / ln(1 + 250e-6))`` is the coarse bucket (as wide as
libvirt's 250 ppm tolerance) and ``j`` (0-63) the 1/64th within it,
published as two octal digits::

    CUSTOM_MIGCOMPAT_TSCB_<k>      the coarse bucket
    CUSTOM_MIGCOMPAT_TSCE_<j // 8> which eighth of it
    CUSTOM_MIGCOMPAT_TSCS_<j % 8>  which eighth of that eighth

A reader takes the middle of the fine bucket, at most :data:`ERROR_PPM`
(1.95 ppm) from the reported frequency. Global names: the coarse buckets
in use + 8 + 8 (one trait of 64 fine buckets would be 64 names, and
Placement lists every name in nova's every ``GET /traits``).
"""

import math
import re

from migcompat_filter import profile as profile_mod
from migcompat_filter.traits.names import PREFIX
from migcompat_filter.traits.names import TraitProblem

COARSE, EIGHTH, SIXTYFOURTH = 'TSCB', 'TSCE', 'TSCS'
CODES = (COARSE, EIGHTH, SIXTYFOURTH)
TOLERANCE_PPM = 250
FINE = 64
DIGIT = 8  # FINE == DIGIT ** 2: two traits of 8 names each
_STEP = math.log1p(TOLERANCE_PPM / 1e6)
#: The largest distance, in ppm, of a decoded TSC frequency from the one
#: reported (half a fine bucket).
ERROR_PPM = math.expm1(_STEP / FINE / 2) * 1e6
_MAX_COARSE = int(math.log(1e11) / _STEP) + 1

NAME_RE = re.compile(r'^%s(TSCB|TSCE|TSCS)_(0|[1-9][0-9]{0,6})$' % PREFIX)


def buckets(hz):
    """(coarse, fine) bucket of a frequency in Hz."""
    x = math.log(hz) / _STEP
    k = math.floor(x)
    return k, min(FINE - 1, int((x - k) * FINE))


def bounds(k, j):
    """[low, high) Hz of a fine bucket."""
    return (math.exp((k + j / FINE) * _STEP),
            math.exp((k + (j + 1) / FINE) * _STEP))


def value(k, j):
    """The frequency a reader takes for a bucket: its middle, in Hz."""
    return int(round(math.exp((k + (j + 0.5) / FINE) * _STEP)))


def bucketable(hz):
    return (isinstance(hz, int) and not isinstance(hz, bool) and
            1 <= hz <= 10 ** 11)


def traits_of(hz):
    """The three trait names of a frequency in Hz."""
    k, j = buckets(hz)
    return ['%s%s_%d' % (PREFIX, code, n) for code, n in
            ((COARSE, k), (EIGHTH, j // DIGIT), (SIXTYFOURTH, j % DIGIT))]


def is_tsc_name(trait):
    return bool(NAME_RE.match(trait))


def apply(traits, factors, problems):
    """Put the frequency the TSC traits give in factors['tsc'] (that the
    three are there together is checked by schema3.contradictions).
    """
    got = {}
    for t in traits:
        m = NAME_RE.match(t)
        if m:
            got[m.group(1)] = (t, int(m.group(2)))
    if not got:
        return
    named = ' '.join(got[c][0] for c in CODES)
    k, e, s = (got[c][1] for c in CODES)
    tsc = factors.get('tsc')
    if k > _MAX_COARSE or e >= DIGIT or s >= DIGIT:
        problems.append(TraitProblem(named, 'TSC bucket out of range', 'tsc'))
        if isinstance(tsc, dict):
            factors['tsc'] = profile_mod.Unknown(
                'TSC buckets %s out of range' % named)
    elif isinstance(tsc, dict):
        tsc = dict(tsc)
        tsc['frequency'] = value(k, e * DIGIT + s)
        factors['tsc'] = tsc
    else:
        problems.append(TraitProblem(got[COARSE][0], 'a TSC frequency '
                                     'for a host whose tsc is not known',
                                     'tsc'))


def describe(trait):
    """What one TSC trait name says."""
    m = NAME_RE.match(trait)
    n = int(m.group(2))
    if m.group(1) == COARSE:
        lo, hi = bounds(n, 0)[0], bounds(n, FINE - 1)[1]
        return 'frequency %d-%d Hz (coarse bucket %d)' % (lo, hi, n)
    if m.group(1) == EIGHTH:
        return 'eighth %d of %d within the coarse bucket' % (n, DIGIT)
    return 'eighth %d of %d within that eighth (to %.2f ppm)' % (
        n, DIGIT, ERROR_PPM)
