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

"""The scheduler install: ``pip install migcompat-filter`` into nova-scheduler.

The base install is the scheduler plugin only; the reporter and the CLI
are extras (setup.cfg [extras]: reporter, cli). Two checks:

- nova's own HostFilterHandler and HostWeightHandler load and run our
  filter and weigher in a venv where libvirt, cliff, osc-lib and
  openstackclient cannot be imported, and where no migcompat module may
  import openstacksdk, keystoneauth1, PyYAML, defusedxml or requests
  (nova itself imports some of them: they are in nova's venv, not in our
  base requirements). The venv is a bare ``python -m venv --without-pip``
  that sees this test env's site-packages through a .pth file, behind an
  import hook (building one with nova from PyPI takes minutes).
- the built wheel's metadata lists libvirt-python, cliff, openstacksdk and
  osc-lib only under extras.
"""

import email.parser
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import zipfile

import testtools

import migcompat_filter

REPO = os.path.dirname(os.path.dirname(migcompat_filter.__file__))

#: Nothing in a nova-scheduler venv provides these.
NOT_INSTALLED = ('libvirt', 'libvirtmod', 'cliff', 'osc_lib',
                 'openstackclient')
#: nova may have these, but they are not our base requirements: no
#: migcompat module may import them in a scheduler process.
NOT_OURS = NOT_INSTALLED + ('openstack', 'keystoneauth1', 'yaml',
                            'defusedxml', 'requests')

_HOOK = textwrap.dedent('''\
    """A scheduler-only install (tests/unit/test_install_roles.py)."""
    import builtins
    import sys

    NOT_INSTALLED = %(not_installed)r
    NOT_OURS = %(not_ours)r


    class _NotInstalled(object):
        def find_spec(self, name, path=None, target=None):
            if name.split('.')[0] in NOT_INSTALLED:
                raise ModuleNotFoundError(
                    'No module named %%r (scheduler-only install)' %% name,
                    name=name)
            return None


    sys.meta_path.insert(0, _NotInstalled())
    _import = builtins.__import__


    def _guarded(name, globals=None, locals=None, fromlist=(), level=0):
        importer = (globals or {}).get('__name__') or ''
        if (level == 0 and name.split('.')[0] in NOT_OURS and
                importer.split('.')[0] == 'migcompat_filter'):
            raise ModuleNotFoundError(
                '%%s imports %%s, which is not in the scheduler install'
                %% (importer, name), name=name)
        return _import(name, globals, locals, fromlist, level)


    builtins.__import__ = _guarded
    ''') % {'not_installed': NOT_INSTALLED, 'not_ours': NOT_OURS}

_LOAD_THROUGH_NOVA = textwrap.dedent('''\
    import json
    import sys

    from nova import objects
    objects.register_all()
    import nova.conf
    from nova.scheduler import filters
    from nova.scheduler import host_manager
    from nova.scheduler import weights

    nova.conf.CONF([], project='nova')
    # What nova.conf names: [filter_scheduler] available_filters (a class
    # path or a function returning classes) and weight_classes.
    fh = filters.HostFilterHandler()
    fclasses = fh.get_matching_classes([
        'migcompat_filter.scheduler.migration_filter.'
        'MigrationCompatibilityFilter',
        'migcompat_filter.scheduler.all_filters'])
    wh = weights.HostWeightHandler()
    wclasses = wh.get_matching_classes([
        'migcompat_filter.scheduler.weigher.MigrationSimilarityWeigher',
        'migcompat_filter.scheduler.all_weighers'])
    hosts = [host_manager.HostState('host%d' % i, 'node%d' % i, 'cell1')
             for i in range(3)]
    # A boot request: nothing to judge, every host passes and weighs 0.
    spec = objects.RequestSpec(
        instance_uuid='8d6c9d4e-1d0e-4c0e-9d3c-2a8f0e0d8a11')
    passed = fh.get_filtered_objects([fclasses[0]()], hosts, spec)
    weighed = wh.get_weighed_objects([wclasses[0]()], passed, spec)
    # oslo-config-generator's entry point, e.g. run in nova's venv.
    from migcompat_filter import conf
    groups = sorted(str(g) for g, _ in conf.list_opts())
    print(json.dumps({
        'filters': [c.__module__ + '.' + c.__name__ for c in fclasses],
        'weighers': [c.__module__ + '.' + c.__name__ for c in wclasses],
        'passed': [h.host for h in passed],
        'weights': [w.weight for w in weighed],
        'option_groups': groups,
        'loaded': sorted(m for m in sys.modules
                         if m.split('.')[0] in NOT_INSTALLED),
    }))
    ''').replace('NOT_INSTALLED', repr(NOT_INSTALLED))


def _scheduler_only_venv(where):
    """A bare venv seeing this env's packages, minus the extras'."""
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', where],
                   check=True, capture_output=True, timeout=60)
    python = os.path.join(where, 'bin', 'python')
    site = subprocess.run(
        [python, '-c', 'import sysconfig; '
         'print(sysconfig.get_paths()["purelib"])'],
        check=True, capture_output=True, text=True, timeout=30).stdout.strip()
    with open(os.path.join(site, '_migcompat_scheduler_only.py'), 'w') as f:
        f.write(_HOOK)
    # .pth files run in name order: the hook first, then this env's
    # site-packages (with its own .pth files: the editable install).
    with open(os.path.join(site, '00_scheduler_only.pth'), 'w') as f:
        f.write('import _migcompat_scheduler_only\n')
    with open(os.path.join(site, '01_nova_venv.pth'), 'w') as f:
        f.write('import site; site.addsitedir(%r)\n'
                % sysconfig.get_paths()['purelib'])
    return python


class SchedulerOnlyInstallTest(testtools.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._tmp = tempfile.TemporaryDirectory(prefix='migcompat-sched-')
        cls.python = _scheduler_only_venv(os.path.join(cls._tmp.name, 'v'))

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()
        super().tearDownClass()

    def _run(self, *args, **kw):
        return subprocess.run([self.python] + list(args),
                              capture_output=True, text=True, timeout=120,
                              cwd=self._tmp.name, **kw)

    def test_nova_loads_and_runs_the_filter_and_weigher(self):
        proc = self._run('-c', _LOAD_THROUGH_NOVA)
        self.assertEqual(0, proc.returncode, proc.stderr[-3000:])
        out = json.loads(proc.stdout.splitlines()[-1])
        filter_path = ('migcompat_filter.scheduler.migration_filter.'
                       'MigrationCompatibilityFilter')
        weigher_path = ('migcompat_filter.scheduler.weigher.'
                        'MigrationSimilarityWeigher')
        self.assertEqual([filter_path, filter_path], out['filters'])
        self.assertEqual([weigher_path, weigher_path], out['weighers'])
        self.assertEqual(['host0', 'host1', 'host2'], out['passed'])
        self.assertEqual([0.0, 0.0, 0.0], out['weights'])
        self.assertIn('migcompat', out['option_groups'])
        self.assertEqual([], out['loaded'])

    def test_the_hook_refuses_what_the_extras_bring(self):
        # The check above can fail: a module of ours that needs an extra
        # (Placement through keystoneauth1) does not import here...
        proc = self._run('-c', 'import migcompat_filter.placement.client')
        self.assertNotEqual(0, proc.returncode)
        self.assertIn(
            'migcompat_filter.placement.client imports keystoneauth1',
            proc.stderr)
        proc = self._run('-c', 'import libvirt')
        self.assertIn("No module named 'libvirt'", proc.stderr)

    def test_the_console_script_names_the_extras(self):
        # ...and "migcompat" says which extra to install, no traceback.
        proc = self._run('-c', 'import sys; from migcompat_filter.cmd '
                         'import main; sys.exit(main(["--version"]))')
        self.assertEqual(2, proc.returncode, proc.stderr)
        self.assertNotIn('Traceback', proc.stderr)
        self.assertIn('the command line is not installed', proc.stderr)
        self.assertIn('migcompat-filter[cli]', proc.stderr)
        self.assertIn('migcompat-filter[reporter]', proc.stderr)


class WheelMetadataTest(testtools.TestCase):
    """What pip installs for each role, from the built wheel."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.metadata = cls.entry_points = None
        if not os.path.isfile(os.path.join(REPO, 'setup.cfg')):
            return
        with tempfile.TemporaryDirectory(prefix='migcompat-whl-') as out:
            # Built from a copy: a build in the tree leaves an egg-info
            # there that shadows the installed metadata (entry points) of
            # every later process started in the tree.
            src = os.path.join(out, 'src')
            shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(
                '.git', '.tox', '.stestr', 'build', 'doc', 'tests',
                'releasenotes', '*.egg-info', '__pycache__'))
            subprocess.run(
                [sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps',
                 '--no-build-isolation', '-w', out, src],
                check=True, capture_output=True, timeout=300,
                env=dict(os.environ, PBR_VERSION='0.0.0'))
            wheel, = [f for f in os.listdir(out) if f.endswith('.whl')]
            with zipfile.ZipFile(os.path.join(out, wheel)) as z:
                names = z.namelist()
                meta, = [n for n in names
                         if n.endswith('.dist-info/METADATA')]
                cls.metadata = email.parser.Parser().parsestr(
                    z.read(meta).decode())
                eps, = [n for n in names
                        if n.endswith('.dist-info/entry_points.txt')]
                cls.entry_points = z.read(eps).decode()

    def setUp(self):
        super().setUp()
        if self.metadata is None:
            self.skipTest('not a source checkout')

    def _requires(self):
        """{extra or None: {distribution name, ...}}"""
        out = {}
        for line in self.metadata.get_all('Requires-Dist'):
            spec, _, marker = line.partition(';')
            name = spec.strip().split()[0]
            for sep in '<>=!~[(':
                name = name.split(sep)[0]
            extra = None
            if 'extra ==' in marker:
                extra = marker.split('extra ==')[1].strip().strip('"\'')
            out.setdefault(extra, set()).add(name.lower())
        return out

    def test_heavy_requirements_only_in_extras(self):
        requires = self._requires()
        base = requires[None]
        for heavy in ('libvirt-python', 'cliff', 'openstacksdk', 'osc-lib',
                      'keystoneauth1', 'nova'):
            self.assertNotIn(heavy, base)
        self.assertEqual({'pbr', 'oslo.config', 'oslo.log', 'stevedore'},
                         base)
        self.assertIn('libvirt-python', requires['reporter'])
        self.assertIn('cliff', requires['reporter'])
        self.assertNotIn('openstacksdk', requires['reporter'])
        for dist in ('cliff', 'openstacksdk', 'osc-lib', 'keystoneauth1'):
            self.assertIn(dist, requires['cli'])
        self.assertNotIn('libvirt-python', requires['cli'])

    def test_console_script_survives_a_scheduler_only_install(self):
        self.assertIn('migcompat = migcompat_filter.cmd:main',
                      self.entry_points)
