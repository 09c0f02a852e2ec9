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

"""How each factor is laid out in schema-2 trait names (plain data + specs).

A factor is published as one or more *parts*, each with its own trait code
(letters only). A part's value is described by a *spec*:

* ``Text(sep, vocabulary)``, ``Int``, ``Bool``: one trait,
  ``<CODE>_<value>`` (``QEMU_8_2_2``, ``PHYSBITS_48``, ``TSC_SCALING_FALSE``);
* ``Dict``: declared fields, each under its field code
  (``CPU_FAMILY_25``, ``NESTED_ENABLED_TRUE``);
* ``Set``: one trait per member (``HM_AVX512F``,
  ``MACHINES_PC_Q35_7__P2``), decoded sorted;
* ``Ordered``: one trait per member with its position (``MODELS_1_EPYC``);
* ``Map``: one trait per entry, ``<key>_<value>`` for a key the vocabulary
  knows (``KPARAM_TSX_OFF``, a bare flag ``KPARAM_NOSMT``), else
  ``<key>__V<value>`` (``__Y`` for a bare flag);
* ``Packed``: never readable; always the compact payload.

Encoding raises :class:`NoFit` for a value the readable form cannot hold;
the codec then publishes that part (or factor) as a compact payload, so
every value is exact either way. Decoding raises Malformed.
"""

from migcompat_filter.factors import catalogue
from migcompat_filter.profile import is_unknown
from migcompat_filter.profile import Unknown
from migcompat_filter.traits.payloads import Malformed
from migcompat_filter.traits import text
from migcompat_filter.traits.vocabulary import ARCHES
from migcompat_filter.traits.vocabulary import FEATURES
from migcompat_filter.traits.vocabulary import KERNEL_PARAMS
from migcompat_filter.traits.vocabulary import KVM_MODULES
from migcompat_filter.traits.vocabulary import MODELS
from migcompat_filter.traits.vocabulary import MODES
from migcompat_filter.traits.vocabulary import MODULE_PARAMS
from migcompat_filter.traits.vocabulary import SMT
from migcompat_filter.traits.vocabulary import VENDORS
from migcompat_filter.traits.vocabulary import VIRT

UNKNOWN = 'UNKNOWN'
EMPTY = 'EMPTY'
NULL = 'NULL'
MARKERS = (UNKNOWN, EMPTY, NULL)


class NoFit(Exception):
    """This value has no readable spelling here (use the compact one)."""


# -- specs -------------------------------------------------------------------

class Spec(object):
    container = False
    nullable = False

    def encode(self, value, path):
        """(bodies, markers) of a value that is not a marker itself."""
        raise NotImplementedError

    def decode(self, bodies, markers):
        raise NotImplementedError

    def empty(self):
        raise Malformed('an empty marker where no container is')

    def sort_key(self, value):
        return value


def encode_node(spec, value, path=()):
    """(bodies, [(marker, path, reason)]) of value under spec."""
    if is_unknown(value):
        return [], [(UNKNOWN, path, value.reason)]
    if spec.container and isinstance(value, (list, tuple, dict)) and \
            not value:
        if isinstance(value, dict) != isinstance(spec.empty(), dict):
            raise NoFit()
        return [], [(EMPTY, path, None)]
    if value is None:
        if not spec.nullable:
            raise NoFit()
        return [], [(NULL, path, None)]
    return spec.encode(value, path)


def decode_node(spec, bodies, markers):
    """markers: path -> (marker, reason), paths relative to this node."""
    own = markers.get(())
    if own is None:
        return spec.decode(bodies, markers)
    if bodies or len(markers) > 1:
        raise Malformed('a marker and values for the same place')
    kind, reason = own
    if kind == UNKNOWN:
        return Unknown(reason)
    if kind == EMPTY:
        return spec.empty()
    if not spec.nullable:
        raise Malformed('a null marker where no null is allowed')
    return None


class _Scalar(Spec):

    def encode(self, value, path):
        return [self.spell(value)], []

    def decode(self, bodies, markers):
        if markers or len(bodies) != 1:
            raise Malformed('%d values for one scalar' % len(bodies))
        return self.read(bodies[0])


class Text(_Scalar):

    def __init__(self, sep, vocabulary=text.EMPTY_VOCABULARY, upper=False,
                 nullable=False):
        self.sep = sep
        self.vocabulary = vocabulary
        self.upper = upper
        self.nullable = nullable

    def spell(self, value):
        if not isinstance(value, str):
            raise NoFit()
        return text.spell(value, self.sep, self.vocabulary, self.upper)

    def read(self, body):
        return text.read(body, self.sep, self.vocabulary, self.upper)


class Int(_Scalar):

    def __init__(self, nullable=False):
        self.nullable = nullable

    def spell(self, value):
        if not isinstance(value, int) or isinstance(value, bool) or \
                value < 0:
            raise NoFit()
        return str(value)

    def read(self, body):
        if not body.isdigit() or str(int(body)) != body:
            raise Malformed('not a number: %s' % body)
        return int(body)


class Bool(_Scalar):

    def __init__(self, nullable=False):
        self.nullable = nullable

    def spell(self, value):
        if not isinstance(value, bool):
            raise NoFit()
        return 'TRUE' if value else 'FALSE'

    def read(self, body):
        if body not in ('TRUE', 'FALSE'):
            raise Malformed('not TRUE or FALSE: %s' % body)
        return body == 'TRUE'


class Packed(Spec):
    """Never readable (e.g. vulnerabilities texts)."""

    def encode(self, value, path):
        raise NoFit()

    def decode(self, bodies, markers):
        raise Malformed('a readable value where only a packed one can be')


class Set(Spec):
    """A list of distinct scalars, one trait each, decoded sorted."""

    container = True

    def __init__(self, item):
        self.item = item

    def empty(self):
        return []

    def encode(self, value, path):
        if not isinstance(value, (list, tuple)):
            raise NoFit()
        return [self.item.spell(v) for v in value], []

    def decode(self, bodies, markers):
        if markers:
            raise Malformed('a marker inside a set')
        items = [self.item.read(b) for b in bodies]
        if len(set(items)) != len(items):
            raise Malformed('a set member twice')
        return sorted(items, key=self.item.sort_key)


class Ordered(Spec):
    """A list whose order matters: ``<position>_<item>``."""

    container = True

    def __init__(self, item):
        self.item = item

    def empty(self):
        return []

    def encode(self, value, path):
        if not isinstance(value, (list, tuple)):
            raise NoFit()
        return ['%d_%s' % (i, self.item.spell(v))
                for i, v in enumerate(value, 1)], []

    def decode(self, bodies, markers):
        if markers:
            raise Malformed('a marker inside a list')
        found = {}
        for body in bodies:
            pos, _sep, rest = body.partition('_')
            if not pos.isdigit() or not _sep or int(pos) in found:
                raise Malformed('bad list position in %s' % body)
            found[int(pos)] = self.item.read(rest)
        if sorted(found) != list(range(1, len(found) + 1)):
            raise Malformed('list positions %s have gaps' % sorted(found))
        return [found[i] for i in sorted(found)]


class Flag(Text):
    """A kernel parameter's value: a string, or True for a bare flag."""

    def spell(self, value):
        if value is True:
            return None
        return super(Flag, self).spell(value)

    def read(self, body):
        if body is None or body == text.FLAG:
            return True
        return super(Flag, self).read(body)


class Map(Spec):
    """name -> value, one trait per entry (see the module docstring)."""

    container = True

    def __init__(self, keys, value):
        self.keys = keys
        self.value = value

    def empty(self):
        return {}

    def _entry(self, key, value):
        if not isinstance(key, str) or is_unknown(value):
            raise NoFit()
        vocabulary = self.keys
        if isinstance(self.value, Map):
            if not isinstance(value, dict) or not value:
                raise NoFit()
            inner = self.value.encode(value, ())[0]
        else:
            inner = [self.value.spell(value)]
        known = vocabulary.spelling.get(key)
        if known is not None:
            bodies = [known if b is None else known + '_' + b
                      for b in inner]
            if all(self._split(b)[0] == key for b in bodies):
                return bodies
        general = text.spell_general(key, '_')
        return [general + text.BOUNDARY + (text.FLAG if b is None else b)
                for b in inner]

    def encode(self, value, path):
        if not isinstance(value, dict):
            raise NoFit()
        bodies = []
        for key in sorted(value):
            bodies.extend(self._entry(key, value[key]))
        return bodies, []

    def _split(self, body):
        if text.BOUNDARY in body:
            key, _b, rest = body.partition(text.BOUNDARY)
            return text.read(key, '_'), rest
        by_spelling = self.keys.by_spelling
        if body in by_spelling:
            return by_spelling[body], None
        for spelt in sorted(by_spelling, key=len, reverse=True):
            if body.startswith(spelt + '_'):
                return by_spelling[spelt], body[len(spelt) + 1:]
        raise Malformed('no known name in %s' % body)

    def decode(self, bodies, markers):
        if markers:
            raise Malformed('a marker inside a map')
        groups = {}
        for body in bodies:
            key, rest = self._split(body)
            groups.setdefault(key, []).append(rest)
        out = {}
        for key, rests in groups.items():
            if isinstance(self.value, Map):
                if None in rests:
                    raise Malformed('a bare name in a nested map')
                out[key] = self.value.decode(rests, {})
            elif len(rests) != 1:
                raise Malformed('%s has %d values' % (key, len(rests)))
            else:
                out[key] = self.value.read(rests[0])
        return out


class Dict(Spec):
    """Declared fields, each as ``<FIELDCODE>_<value>``."""

    container = True

    def __init__(self, fields):
        #: name -> (code, spec); codes are letters only.
        self.fields = fields
        self.by_code = {code: (name, spec)
                        for name, (code, spec) in fields.items()}

    def empty(self):
        return {}

    def encode(self, value, path):
        if not isinstance(value, dict) or set(value) - set(self.fields):
            raise NoFit()
        bodies, markers = [], []
        for name in sorted(value):
            code, spec = self.fields[name]
            b, m = encode_node(spec, value[name], path + (code,))
            bodies.extend('%s_%s' % (code, x) for x in b)
            markers.extend(m)
        return bodies, markers

    def decode(self, bodies, markers):
        groups = {}
        for body in bodies:
            code, _sep, rest = body.partition('_')
            groups.setdefault(code, ([], {}))[0].append(rest)
        for path, marker in markers.items():
            groups.setdefault(path[0], ([], {}))[1][path[1:]] = marker
        out = {}
        for code, (sub_bodies, sub_markers) in groups.items():
            if code not in self.by_code:
                raise Malformed('unknown field %s' % code)
            name, spec = self.by_code[code]
            out[name] = decode_node(spec, sub_bodies, sub_markers)
        return out


class IntSet(Set):
    def __init__(self):
        super(IntSet, self).__init__(Int())


# -- the layout ----------------------------------------------------------

class Part(object):
    """One trait family of a factor: its code, spec, and which fields of
    the factor's dict it holds (None: the whole value; one name with
    ``single``: that field's value itself).
    """

    def __init__(self, code, spec, fields=None, single=False):
        self.code = code
        self.spec = spec
        self.fields = fields
        self.single = single
        self.per_host = False  # from the catalogue (_mark_per_host)


class Layout(object):
    """A factor's code (whole-value markers and packing) and parts."""

    def __init__(self, name, code, parts):
        self.name = name
        self.code = code
        self.parts = parts


_VERSION = Text('.')
_MODEL = Text('-', MODELS)
_FEATURE_SET = Set(Text('-', FEATURES))
_FREE = Text(' ', upper=True)


def _one(code, spec, **kw):
    return [Part(code, spec, **kw)]


def _field(code, field, spec):
    return Part(code, spec, fields=(field,), single=True)


def _fields(code, fields):
    return Part(code, Dict(fields), fields=tuple(fields))


def _build():
    kvm = Map(KVM_MODULES, Map(MODULE_PARAMS, Text('.', upper=True)))
    return [
        Layout('arch', 'ARCH', _one('ARCH', Text('_', ARCHES))),
        Layout('cpu_model', 'CPU', _one('CPU', Dict({
            'vendor': ('VENDOR', Text(' ', VENDORS)),
            'family': ('FAMILY', Int()), 'model': ('MODEL', Int()),
            'stepping': ('STEPPING', Int()),
            'model_name': ('NAME', _FREE),
            'libvirt_model': ('LIBVIRT', Text('-', MODELS, nullable=True)),
            'implementer': ('IMPLEMENTER', Int()), 'part': ('PART', Int()),
            'variant': ('VARIANT', Int()),
            'revision': ('REVISION', Int())}))),
        Layout('cpu_features', 'FEATURES', [
            _field('FEAT', 'features', _FEATURE_SET),
            _fields('FEATINFO', {
                'source': ('SOURCE', Text('-')),
                'model': ('MODEL', Text('-', MODELS, nullable=True)),
                'expanded_by': ('BY', Text('+'))}),
            _field('FEATNOTE', 'note', _FREE)]),
        Layout('microcode_version', 'UCODE', _one('UCODE', _VERSION)),
        Layout('firmware_version', 'FWVER', _one('FWVER', Dict({
            'vendor': ('VENDOR', _FREE), 'version': ('VERSION', _FREE),
            'date': ('DATE', _FREE)}))),
        Layout('firmware_settings', 'FWSET', _one('FWSET', Dict({
            'smt': ('SMT', Text('-', SMT)),
            'threads_per_core': ('THREADS', Int()),
            'virtualization': ('VIRT', Text('-', VIRT))}))),
        Layout('kernel_version', 'KVER', _one('KVER', _VERSION)),
        Layout('kernel_settings', 'KSET', [
            _field('KPARAM', 'cmdline', Map(KERNEL_PARAMS, Flag('_'))),
            _field('MODPROBE', 'modprobe', kvm),
            _field('KVMPARAM', 'module_parameters', kvm),
            _field('VULN', 'vulnerabilities', Packed())]),
        Layout('qemu_version', 'QEMU', _one('QEMU', _VERSION)),
        Layout('libvirt_version', 'LIBVIRT', _one('LIBVIRT', _VERSION)),
        Layout('nested_virt', 'NESTED', _one('NESTED', Dict({
            'nested': ('ISVM', Bool()),
            'hypervisor': ('HYPERVISOR', Text(' ', upper=True,
                                              nullable=True)),
            'nested_enabled': ('ENABLED', Bool())}))),
        Layout('host_model', 'HOSTMODEL', [
            _field('HM', 'features', _FEATURE_SET),
            _field('HMOFF', 'disabled', _FEATURE_SET),
            _fields('HMINFO', {
                'model': ('MODEL', _MODEL),
                'vendor': ('VENDOR', Text(' ', VENDORS)),
                'expanded': ('EXPANDED', Bool()),
                'expanded_by': ('BY', Text('+')),
                'approximated': ('APPROXIMATED', Bool())}),
            _field('HMNOTE', 'note', _FREE)]),
        Layout('usable_models', 'USABLE', _one('USABLE', Set(_MODEL))),
        Layout('tsc', 'TSC', [
            _field('TSCSCALING', 'scaling', Bool(nullable=True)),
            _field('TSCHZ', 'frequency', Int())]),
        Layout('phys_bits', 'PHYSBITS', _one('PHYSBITS', Int())),
        Layout('machine_types', 'MACHINES',
               _one('MACHINES', Set(Text('-')))),
        Layout('cpu_mode', 'MODE', _one('MODE', Text('-', MODES))),
        Layout('cpu_models', 'MODELS', _one('MODELS', Ordered(_MODEL))),
        Layout('running_guests', 'GUESTS', [
            _fields('GUESTINFO', {
                'count': ('COUNT', Int()),
                'modes': ('MODES', Map(MODES, Int())),
                'unexpanded': ('UNEXPANDED', Set(_MODEL)),
                'machine_types': ('MACHINES', Set(Text('-'))),
                'invtsc_frequencies': ('INVTSC', IntSet()),
                'invtsc_unpinned': ('UNPINNED', Int()),
                'phys_bits': ('PHYSBITS', IntSet())}),
            _field('GUESTHM', 'host_model_features', _FEATURE_SET),
            _field('GUESTCUSTOM', 'custom_features', _FEATURE_SET),
            _field('GUESTPT', 'passthrough_extra', _FEATURE_SET)]),
    ]


def _mark_per_host(layouts):
    """A part is per host when its factor is (catalogue per_host) or all
    its fields are the factor's per_host_fields.
    """
    for lay in layouts:
        row = catalogue.get(lay.name)
        for part in lay.parts:
            part.per_host = row.per_host or bool(
                part.fields and
                set(part.fields) <= set(row.per_host_fields))
    return layouts


LAYOUTS = {layout.name: layout for layout in _mark_per_host(_build())}
