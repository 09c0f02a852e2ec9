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

"""Named x86 CPU models expanded with QEMU's own model definitions.

libvirt's CPU map lags behind QEMU: libvirt 9.0 does not know versioned
models such as ``Cascadelake-Server-v3`` that newer libvirt writes into
host capabilities. The QEMU binary on this machine defines them, so we ask
it: one QEMU process (no guest, no KVM: ``-machine none -accel tcg``) and
one QMP session answer ``query-cpu-model-expansion`` (type ``static``) for
any number of models. A static expansion is the model's definition as
properties of the ``base`` model; the CPU is never realized, so nothing is
filtered by what TCG or the host can run.

Two features are not the model's own in such an expansion and are left
out of every answer (see :data:`NOT_MODEL_DEFINED`):

* ``hypervisor``: QEMU sets it on every model (it is a guest's CPU);
* ``vme``: the TCG accelerator turns it off on every built-in model
  (``x86_tcg_default_props`` in QEMU's target/i386/tcg), so whether the
  model defines it cannot be seen without KVM.

QEMU's definition of a model is not libvirt's: libvirt's CPU map keeps
its own lists (libvirt's ``EPYC-Milan`` lacks QEMU's ``monitor`` and
``topoext``, its ``Cascadelake-Server`` has ``mpx`` where QEMU's has
``pku``). :mod:`migcompat_filter.host.source` therefore uses QEMU mainly
for what a model *version* changes on top of the base model libvirt knows.

Property names are mapped to libvirt spelling (libvirt's own alias table,
``cpu_map/x86_features.xml``); properties that are not host CPUID features
(KVM paravirt features, VMX capability MSRs, family/model/... values) are
dropped.

QEMU's answers (the enabled properties, before mapping, so that a change
of the mapping needs no cache invalidation) are cached per (binary, its
mtime and size, model) in-process and in a small JSON file under
migcompat's cache directory (expansion_cache.cache_dir: by default
``$XDG_CACHE_HOME/migcompat``, else ``~/.cache/migcompat``): safe to
delete, never required, ignored when unreadable. QEMU's refusals (a model
it does not define) are cached too; failures to run QEMU are not.

Every failure is a :class:`QemuCpuModelError` (an unknown factor with its
reason), never an exception of another kind.
"""

import json
import os
import resource
import shutil
import subprocess
import tempfile
import time

from migcompat_filter.exception import FactorUnknown
from migcompat_filter.host import expansion_cache

#: Seconds one QEMU process may take for a whole batch. It answers in
#: about 0.1 s here; the margin is for loaded machines.
TIMEOUT = 20.0

#: Refuse more QMP output than this from one process. One expansion is
#: about 15 KB; a batch of every x86 model is well under 4 MiB.
MAX_OUTPUT_BYTES = 8 * 1024 * 1024

#: The on-disk cache is read only when smaller than this, and keeps at
#: most MAX_CACHE_ENTRIES models (the newest win).
MAX_CACHE_BYTES = 2 * 1024 * 1024
MAX_CACHE_ENTRIES = 1000

CACHE_FILE = 'qemu-cpu-models.json'
CACHE_FORMAT = 2

#: QEMU property name -> libvirt feature name, where they differ
#: (libvirt cpu_map/x86_features.xml lists these as <alias source='qemu'>).
QEMU_TO_LIBVIRT = {
    'sse3': 'pni',
    'pclmulqdq': 'pclmuldq',
    'ds-cpl': 'ds_cpl',
    'sse4-1': 'sse4.1',
    'sse4_1': 'sse4.1',
    'sse4-2': 'sse4.2',
    'sse4_2': 'sse4.2',
    'tsc-adjust': 'tsc_adjust',
    'cqm': 'cmt',
    'md_clear': 'md-clear',
    'arch_capabilities': 'arch-capabilities',
    'xd': 'nx',
    'ffxsr': 'fxsr_opt',
    'fxsr-opt': 'fxsr_opt',
    'i64': 'lm',
    'lahf-lm': 'lahf_lm',
    'cmp-legacy': 'cmp_legacy',
    'nodeid-msr': 'nodeid_msr',
    'perfctr-core': 'perfctr_core',
    'perfctr-nb': 'perfctr_nb',
    'svm_lock': 'svm-lock',
    'nrip_save': 'nrip-save',
    'tsc_scale': 'tsc-scale',
    'vmcb_clean': 'vmcb-clean',
    'pause_filter': 'pause-filter',
}

#: Boolean QEMU properties that are not CPUID features of a host CPU:
#: KVM paravirtual features (prefix ``kvm``), VMX capability MSRs
#: (``vmx-``: libvirt's x86 CPU map does not list them as features of its
#: models), MSR-only capabilities, and QEMU's guest marker.
NOT_CPUID_PREFIXES = ('kvm', 'vmx-')
NOT_CPUID = frozenset([
    'lmce',              # MSR IA32_MCG_CAP, not CPUID
    'full-width-write',  # MSR IA32_PERF_CAPABILITIES, not CPUID
    'pmu', 'check', 'enforce', 'migratable',  # QEMU knobs (full expansion)
])

#: Features a TCG static expansion shows that are not the model's
#: definition (see the module docstring); never reported.
NOT_MODEL_DEFINED = frozenset(['hypervisor', 'vme'])

#: libvirt arch -> QEMU system emulator name suffix.
ARCH_BINARY = {'x86_64': 'x86_64', 'i686': 'i386', 'i386': 'i386'}


class QemuCpuModelError(FactorUnknown):
    """QEMU could not expand a CPU model; str(exc) says why."""

    #: True when QEMU itself refused the model: the same binary always
    #: will, so the answer may be cached.
    lasting = False


def _refusal(message):
    error = QemuCpuModelError(message)
    error.lasting = True
    return error


def libvirt_feature(prop):
    """The libvirt spelling of a QEMU feature property, or None to drop."""
    name = (prop or '').strip().lower()
    if not name or name in NOT_CPUID or name.startswith(NOT_CPUID_PREFIXES):
        return None
    name = QEMU_TO_LIBVIRT.get(name, name)
    return None if name in NOT_MODEL_DEFINED else name


def enabled_properties(props):
    """The QEMU properties a static expansion sets to true."""
    # False features, and family/model/vendor/... values, are not.
    return sorted(p for p, value in props.items()
                  if value is True and isinstance(p, str))


def model_features(enabled):
    """libvirt-spelled features of a model's enabled QEMU properties."""
    return frozenset(filter(None, (libvirt_feature(p) for p in enabled)))


def find_binary(arch='x86_64', preferred=None, search_path=None):
    """The QEMU system emulator for ``arch``.

    ``preferred`` (the emulator path a host's domain capabilities name) is
    used when it exists here; else qemu-system-<arch> on ``search_path``
    (default $PATH). QemuCpuModelError says what was looked for.
    """
    arch = (arch or 'x86_64').strip()
    if arch not in ARCH_BINARY:
        raise QemuCpuModelError(
            'QEMU CPU model expansion covers x86 only, not %s' % arch)
    if preferred and os.path.isfile(preferred) and \
            os.access(preferred, os.X_OK):
        return preferred
    name = 'qemu-system-%s' % ARCH_BINARY[arch]
    found = shutil.which(name, path=search_path)
    if found:
        return found
    tried = ('%s (from domain capabilities) and ' % preferred
             if preferred else '')
    raise QemuCpuModelError('no QEMU emulator to expand CPU models: tried %s'
                            '%s on PATH' % (tried, name))


def _binary_key(binary):
    try:
        st = os.stat(binary)
    except OSError as e:
        raise QemuCpuModelError('QEMU binary %s: %s'
                                % (binary, e.strerror or e))
    if not os.path.isfile(binary) or not os.access(binary, os.X_OK):
        raise QemuCpuModelError('QEMU binary %s: is not an executable file'
                                % binary)
    return '%s|%d|%d' % (os.path.realpath(binary), st.st_mtime_ns,
                         st.st_size)


def _is_current(key):
    """Is a cache key still the key of its binary?"""
    try:
        return _binary_key(key.split('|')[0]) == key
    except QemuCpuModelError:
        return False


def cache_dir():
    """migcompat's cache directory, or None when turned off (one setting
    for both caches: expansion_cache.cache_dir).
    """
    return expansion_cache.cache_dir()


class _DiskCache(object):
    """{binary key: {'qemu': version, 'models': {model: [properties]}}}."""

    def path(self):
        directory = cache_dir()
        return os.path.join(directory, CACHE_FILE) if directory else None

    def load(self):
        if self.path() is None:
            return {}
        try:
            with open(self.path(), 'rb') as f:
                data = f.read(MAX_CACHE_BYTES + 1)
            if len(data) > MAX_CACHE_BYTES:
                return {}
            doc = json.loads(data.decode('utf-8'))
        except (OSError, ValueError):
            return {}  # missing, unreadable or damaged: start afresh
        if not isinstance(doc, dict) or doc.get('format') != CACHE_FORMAT \
                or not isinstance(doc.get('binaries'), dict):
            return {}
        return doc['binaries']

    def get(self, key, model, binaries=None):
        """A cached answer, or None; ``binaries``: a load() to reuse."""
        entry = (self.load() if binaries is None else binaries).get(key)
        if not isinstance(entry, dict) or not isinstance(
                entry.get('models'), dict):
            return None
        feats = entry['models'].get(model)
        if isinstance(feats, dict) and isinstance(feats.get('error'), str):
            return _refusal(feats['error'])
        if not isinstance(feats, list) or not all(
                isinstance(f, str) for f in feats):
            return None
        return str(entry.get('qemu')), tuple(feats)

    def put(self, key, version, models):
        """Add ``models`` ({name: properties or refusal}); never raises."""
        if self.path() is None:
            return
        try:
            binaries = self.load()
            entry = binaries.get(key)
            if not isinstance(entry, dict) or not isinstance(
                    entry.get('models'), dict):
                entry = {'models': {}}
            entry['qemu'] = version
            for name, answer in models.items():
                entry['models'].pop(name, None)  # newest last
                entry['models'][name] = (
                    {'error': str(answer)}
                    if isinstance(answer, QemuCpuModelError)
                    else sorted(answer))
            # Only binaries as they are now are kept: an upgraded QEMU has
            # a new key, and its old answers are dead weight.
            binaries = {k: v for k, v in binaries.items()
                        if k != key and _is_current(k)}
            binaries[key] = entry
            if sum(len(v.get('models') or {}) for v in binaries.values()
                   if isinstance(v, dict)) > MAX_CACHE_ENTRIES:
                names = list(entry['models'])[-MAX_CACHE_ENTRIES:]
                entry['models'] = {n: entry['models'][n] for n in names}
                binaries = {key: entry}
            directory = cache_dir()
            os.makedirs(directory, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=directory, prefix='.tmp-')
            try:
                with os.fdopen(fd, 'w') as f:
                    json.dump({'format': CACHE_FORMAT,
                               'binaries': binaries}, f)
                os.replace(tmp, self.path())
            except BaseException:
                os.unlink(tmp)
                raise
        except (OSError, ValueError, TypeError):
            pass  # a cache is never required


_DISK = _DiskCache()
#: (binary key, model) -> (qemu version, enabled properties) or
#: QemuCpuModelError
_MEMORY = {}


def clear_memory_cache():
    _MEMORY.clear()


def expand_models(models, binary):
    """Expand several named models with one QEMU process.

    Returns {model: (qemu_version, frozenset of libvirt-spelled features)
    or QemuCpuModelError}. Raises QemuCpuModelError only when QEMU itself
    cannot be used (then no model could be expanded).
    """
    key = _binary_key(binary)
    out, wanted, disk = {}, [], None
    for model in dict.fromkeys(models):
        cached = _MEMORY.get((key, model))
        if cached is None:
            if disk is None:
                disk = _DISK.load()  # once per call, not per model
            cached = _DISK.get(key, model, disk)
            if cached is not None:
                _MEMORY[(key, model)] = cached
        if cached is None:
            wanted.append(model)
        else:
            out[model] = cached
    if wanted:
        version, answers = _query_qemu(binary, wanted)
        fresh = {}
        for model in wanted:
            answer = answers[model]
            if isinstance(answer, QemuCpuModelError):
                value = answer
                if answer.lasting:
                    fresh[model] = answer
            else:
                value = (version, tuple(answer))
                fresh[model] = answer
            _MEMORY[(key, model)] = value
            out[model] = value
        if fresh:
            _DISK.put(key, version, fresh)
    return {model: value if isinstance(value, QemuCpuModelError)
            else (value[0], model_features(value[1]))
            for model, value in out.items()}


def expand_model(model, binary):
    """(qemu_version, frozenset of features) of one model, or raises."""
    value = expand_models([model], binary)[model]
    if isinstance(value, QemuCpuModelError):
        raise value
    return value


def _qmp_input(models):
    lines = [{'execute': 'qmp_capabilities', 'id': 'caps'}]
    for i, model in enumerate(models):
        lines.append({'execute': 'query-cpu-model-expansion',
                      'arguments': {'type': 'static',
                                    'model': {'name': model}},
                      'id': i})
    lines.append({'execute': 'quit', 'id': 'quit'})
    return ''.join(json.dumps(line) + '\n' for line in lines).encode()


def _limit_output():
    # In the child: the kernel stops it (SIGXFSZ) at the size limit, so a
    # flood never fills the temporary directory between two checks.
    resource.setrlimit(resource.RLIMIT_FSIZE,
                       (MAX_OUTPUT_BYTES + 1, MAX_OUTPUT_BYTES + 1))


def _run(binary, stdin_bytes):
    """Run QEMU with bounded time and output; (returncode, stdout, err).

    Input and output go through temporary files, not pipes: no pipe can
    fill up or break (a program that is not QEMU may exit at once), and
    it works the same where eventlet has patched the standard library.
    """
    argv = [binary, '-machine', 'none', '-accel', 'tcg', '-nodefaults',
            '-no-user-config', '-nographic', '-display', 'none',
            '-qmp', 'stdio']
    env = dict(os.environ, LC_ALL='C')
    with tempfile.TemporaryFile() as fin, tempfile.TemporaryFile() as fout, \
            tempfile.TemporaryFile() as ferr:
        fin.write(stdin_bytes)
        fin.flush()
        fin.seek(0)
        try:
            proc = subprocess.Popen(argv, stdin=fin, stdout=fout,
                                    stderr=ferr, env=env, close_fds=True,
                                    preexec_fn=_limit_output)
        except OSError as e:
            raise QemuCpuModelError('cannot run QEMU %s: %s'
                                    % (binary, e.strerror or e))
        deadline = time.monotonic() + TIMEOUT
        step = 0.005
        try:
            while True:
                try:
                    rc = proc.wait(step)
                    break
                except subprocess.TimeoutExpired:
                    pass
                size = (os.fstat(fout.fileno()).st_size
                        + os.fstat(ferr.fileno()).st_size)
                if size > MAX_OUTPUT_BYTES:
                    raise QemuCpuModelError(
                        'QEMU %s wrote more than %d bytes; refusing it'
                        % (binary, MAX_OUTPUT_BYTES))
                if time.monotonic() > deadline:
                    raise QemuCpuModelError(
                        'QEMU %s did not answer within %d s'
                        % (binary, TIMEOUT))
                step = min(step * 2, 0.1)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        outputs = []
        for f in (fout, ferr):
            f.seek(0)
            data = f.read(MAX_OUTPUT_BYTES + 1)
            if len(data) > MAX_OUTPUT_BYTES:
                raise QemuCpuModelError(
                    'QEMU %s wrote more than %d bytes; refusing it'
                    % (binary, MAX_OUTPUT_BYTES))
            outputs.append(data.decode('utf-8', 'replace'))
    return rc, outputs[0], outputs[1]


def _query_qemu(binary, models):
    """(qemu version, {model: enabled properties or QemuCpuModelError})."""
    rc, stdout, stderr = _run(binary, _qmp_input(models))
    version = None
    replies = {}
    for line in stdout.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if not isinstance(msg, dict):
            continue
        if 'QMP' in msg:
            try:
                v = msg['QMP']['version']['qemu']
                version = '%d.%d.%d' % (v['major'], v['minor'], v['micro'])
            except (KeyError, TypeError, ValueError):
                version = 'unknown version'
        elif 'id' in msg:
            replies[msg['id']] = msg
    if version is None:
        detail = (stderr.strip().splitlines() or ['no output'])[-1]
        raise QemuCpuModelError(
            '%s is not a working QEMU with QMP (exit status %s: %s)'
            % (binary, rc, detail[:200]))
    answers = {}
    for i, model in enumerate(models):
        reply = replies.get(i)
        if reply is None:
            answers[model] = QemuCpuModelError(
                'QEMU %s (%s) gave no answer for CPU model %s'
                % (version, binary, model))
        elif 'error' in reply:
            desc = str((reply.get('error') or {}).get('desc', reply))
            answers[model] = _refusal(
                'QEMU %s (%s) cannot expand CPU model %s: %s'
                % (version, binary, model, desc[:200]))
        else:
            try:
                props = reply['return']['model']['props']
                if not isinstance(props, dict):
                    raise TypeError(props)
            except (KeyError, TypeError):
                answers[model] = QemuCpuModelError(
                    'QEMU %s (%s): unexpected answer for CPU model %s'
                    % (version, binary, model))
                continue
            answers[model] = enabled_properties(props)
    return version, answers
