"""The host factor profile: plain data that every other part consumes.

Data flows one way: a host source is read into a :class:`Profile`, a profile
is encoded as traits, traits are decoded back into a profile, and the rules
engine compares two profiles. This module is the contract between them.

A profile maps a factor name (see ``FACTOR_SCHEMA`` below) to the factor's
value. Any value, or any part of a value, may be :class:`Unknown`: a value
that could not be read, carrying the reason. Unknown is never equal to
anything, including another Unknown.

JSON form (``migcompat profile -f json``)::

    {"schema_version": 1,
     "kernel_version": "6.18.44-fc-v595",
     "firmware_version": {"unknown": true, "reason": "no DMI data: ..."},
     ...}
"""

import json

from migcompat_filter.exception import InputError

#: Bumped when a factor's value changes shape. Readers refuse a newer one.
SCHEMA_VERSION = 1

#: The built-in factors and the shape of their values (documentation as
#: data: ``migcompat factors`` prints it, and tests check readers against
#: it). Plugins may add factors; a plugin factor's value must be JSON data.
FACTOR_SCHEMA = {
    'arch': 'str: CPU architecture, e.g. "x86_64"',
    'cpu_model': (
        'dict: vendor ("Intel", "AMD", ...), family, model, stepping '
        '(ints), model_name (the /proc/cpuinfo string), libvirt_model '
        '(the model libvirt names the host CPU with)'),
    'cpu_features': (
        'dict: source ("cpuinfo", "libvirt", "qemu" or '
        '"libvirt-unexpanded"), model (libvirt model name or null), '
        'features (sorted feature names in libvirt spelling; with '
        '"libvirt-unexpanded" only the features beyond the named model, '
        'and note: why the model could not be expanded), expanded_by '
        '(when a named model was expanded: "libvirt" for libvirt\'s CPU '
        'map, "libvirt+qemu" for libvirt\'s base model plus the changes '
        'the local QEMU defines for a model version the map does not '
        'know (both give source "libvirt"), "qemu" for the local QEMU\'s '
        'own model definition (source "qemu": QEMU\'s model lists differ '
        'from libvirt\'s in places); note says how)'),
    'firmware_version': 'dict: vendor, version, date (DMI bios_* strings)',
    'firmware_settings': (
        'dict: smt (sysfs smt/control: on, off, forceoff, notsupported, '
        'notimplemented), threads_per_core (int), virtualization ("vmx", '
        '"svm" or "none": whether the firmware exposes VT-x/AMD-V)'),
    'kernel_version': 'str: the running kernel release (uname -r)',
    'kernel_settings': (
        'dict: cmdline (the CPU-relevant kernel parameters: name -> value, '
        'true for a bare flag), modprobe (module -> option -> value from '
        '/etc/modprobe.d), module_parameters (module -> parameter -> value '
        'from /sys/module/kvm*/parameters), vulnerabilities (name -> text)'),
    'microcode_version': 'str: microcode revision as /proc/cpuinfo shows it, '
                         'e.g. "0x1000065"',
    'qemu_version': 'str: e.g. "7.2.22"',
    'libvirt_version': 'str: e.g. "9.0.0"',
    'nested_virt': (
        'dict: nested (bool: this host is itself a virtual machine), '
        'hypervisor (str or null: what it runs on, from DMI), '
        'nested_enabled (bool: KVM offers nested virtualization to guests)'),
    'cpu_mode': 'str: nova [libvirt] cpu_mode: host-model, host-passthrough, '
                'custom or none',
    'cpu_models': 'list: nova [libvirt] cpu_models (custom mode)',
    'host_model': (
        'dict: model, vendor, features (sorted enabled features of the '
        'host-model CPU, libvirt spelling), disabled (sorted), expanded '
        '(bool: features is the complete list, not only the require list '
        'on top of the named model; when false, note says why), '
        'expanded_by (present when migcompat expanded the named model: '
        '"libvirt" or "libvirt+qemu" as for cpu_features)'),
    'usable_models': 'list: named CPU models libvirt reports usable',
    'tsc': 'dict: frequency (int Hz), scaling (bool or null)',
    'phys_bits': 'int: physical address bits',
    'machine_types': 'list: QEMU machine types (kvm domain, with aliases)',
}


class Unknown(object):
    """A factor value that could not be read, and why.

    Deliberately unequal to everything (itself included) so that no code
    path can ever treat two unknowns as "the same".
    """

    __slots__ = ('reason',)

    def __init__(self, reason):
        self.reason = str(reason)

    def __eq__(self, other):
        return False

    def __ne__(self, other):
        return True

    __hash__ = None

    def __repr__(self):
        return 'Unknown(%r)' % self.reason

    def to_json(self):
        return {'unknown': True, 'reason': self.reason}


def is_unknown(value):
    return isinstance(value, Unknown)


class ProfileError(InputError):
    """A profile document is unusable; the message names what is wrong."""


def to_jsonable(value):
    """Return value with every Unknown turned into its JSON form."""
    if isinstance(value, Unknown):
        return value.to_json()
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


def is_unknown_json(value):
    """True for the JSON form of an Unknown: {"unknown": true, ...}."""
    return (isinstance(value, dict) and value.get('unknown') is True
            and set(value) <= {'unknown', 'reason'})


def from_jsonable(value):
    """Inverse of :func:`to_jsonable`."""
    if isinstance(value, dict):
        if is_unknown_json(value):
            return Unknown(value.get('reason', 'no reason given'))
        return {k: from_jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_jsonable(v) for v in value]
    return value


class Profile(object):
    """The factors of one host: name -> value (possibly Unknown)."""

    def __init__(self, factors=None, schema_version=SCHEMA_VERSION):
        self.factors = dict(factors or {})
        self.schema_version = schema_version

    def __getitem__(self, name):
        return self.factors.get(
            name, Unknown('factor %s was not reported' % name))

    def __contains__(self, name):
        return name in self.factors

    def get(self, name):
        return self[name]

    def to_dict(self):
        out = {'schema_version': self.schema_version}
        for name in sorted(self.factors):
            out[name] = to_jsonable(self.factors[name])
        return out

    def to_json(self, indent=2):
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_dict(cls, data, origin='profile'):
        if not isinstance(data, dict):
            raise ProfileError('%s: a profile is a JSON object, not %s'
                               % (origin, type(data).__name__))
        version = data.get('schema_version')
        if not isinstance(version, int) or isinstance(version, bool):
            raise ProfileError('%s: schema_version is missing or not an '
                               'integer' % origin)
        if version > SCHEMA_VERSION:
            raise ProfileError(
                '%s: profile schema version %d is newer than this migcompat '
                'understands (%d); upgrade migcompat'
                % (origin, version, SCHEMA_VERSION))
        factors = {k: from_jsonable(v) for k, v in data.items()
                   if k != 'schema_version'}
        return cls(factors, schema_version=version)

    @classmethod
    def from_json(cls, text, origin='profile'):
        try:
            data = json.loads(text)
        except ValueError as e:
            raise ProfileError('%s: not valid JSON: %s' % (origin, e))
        return cls.from_dict(data, origin=origin)

    def __eq__(self, other):
        # Profiles compare by their JSON form: two profiles are equal when
        # they say the same thing, unknown reasons included.
        return isinstance(other, Profile) and self.to_dict() == other.to_dict()

    def __ne__(self, other):
        return not self == other

    __hash__ = None

    def __repr__(self):
        return 'Profile(%r)' % sorted(self.factors)
