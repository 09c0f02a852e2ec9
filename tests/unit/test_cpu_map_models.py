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

"""CPU models the local libvirt does not know are expanded with the newer
libvirt CPU map migcompat carries (migcompat_filter.cpu.map_models), and
the verdict says so.
"""

import json
import os
import re
import subprocess
import sys

import fixtures
import testtools

from migcompat_filter.cpu import map_models
from migcompat_filter.host import cpu_expansion
from tests import cli

ROOT = os.path.join(os.path.dirname(__file__), '..', '..')
GENOA_HOST = os.path.join(ROOT, 'tests', 'fixtures', 'hosts',
                          'libvirt-cpuid-epyc-9334-32-core-host')
GUEST = os.path.join(ROOT, 'tests', 'fixtures', 'guests',
                     'host-model-guest.live.xml')


def local_libvirt_knows(model):
    try:
        cpu_expansion._expand_with_cpu_map(
            cpu_expansion._CpuSpec('x86_64', model, None, []))
    except Exception:
        return False
    return True


class TestData(testtools.TestCase):

    def test_generated_module_matches_its_map_files(self):
        proc = subprocess.run(
            [sys.executable, os.path.join(ROOT, 'tools',
                                          'make_cpu_model_data.py'),
             '--map', os.path.join(ROOT, 'tools', 'libvirt_cpu_map'),
             '--check'], capture_output=True, text=True, timeout=120)
        self.assertEqual(0, proc.returncode, proc.stderr)

    def test_check_fails_on_a_hand_edit(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        edited = os.path.join(tmp, 'map_models.py')
        with open(map_models.__file__) as f:
            text = f.read()
        with open(edited, 'w') as f:
            f.write(text.replace("'3dnowprefetch abm", "'abm", 1))
        proc = subprocess.run(
            [sys.executable, os.path.join(ROOT, 'tools',
                                          'make_cpu_model_data.py'),
             '--map', os.path.join(ROOT, 'tools', 'libvirt_cpu_map'),
             '--output', edited, '--check'],
            capture_output=True, text=True, timeout=120)
        self.assertEqual(1, proc.returncode, proc.stderr)

    def test_licence_and_models(self):
        with open(map_models.__file__) as f:
            head = f.read(600)
        self.assertIn('LGPL-2.1-or-later', head)
        self.assertIn('libvirt', head)
        vendor, feats = map_models.features('EPYC-Genoa')
        self.assertEqual('AMD', vendor)
        self.assertTrue({'avx512f', 'la57', 'svm'} <= feats)
        self.assertEqual(feats, map_models.features('EPYC-Genoa-v1')[1])
        self.assertIsNone(map_models.features('EPYC-Genoa-v9'))

    def test_every_model_of_the_map_files_reads_back(self):
        # Versions are written against another model (DERIVED): each must
        # still give exactly its file's features.
        sys.path.insert(0, os.path.join(ROOT, 'tools'))
        self.addCleanup(sys.path.remove, os.path.join(ROOT, 'tools'))
        import make_cpu_model_data
        models, sources = make_cpu_model_data.read_models(
            os.path.join(ROOT, 'tools', 'libvirt_cpu_map'))
        for name in ('ClearwaterForest', 'Denverton-v3', 'DiamondRapids',
                     'EPYC-Genoa-v2', 'GraniteRapids-v5',
                     'SapphireRapids-v3', 'SierraForest-v2', 'YongFeng',
                     'KnightsMill'):
            self.assertIn(name, models)
        for name, (vendor, feats) in models.items():
            self.assertEqual((vendor, frozenset(feats)),
                             map_models.features(name), name)
            self.assertIn(name, sources)
        self.assertTrue(map_models.DERIVED)
        self.assertEqual(map_models.features('DiamondRapids'),
                         map_models.features('DiamondRapids-v1'))


class TestCompareGuest(testtools.TestCase):

    def test_guests_of_models_newer_than_libvirt_9_are_judged(self):
        with open(GUEST) as f:
            text = f.read()
        tmp = self.useFixture(fixtures.TempDir()).path
        for model in ('DiamondRapids', 'ClearwaterForest-v3',
                      'GraniteRapids-v5', 'SierraForest-v2', 'YongFeng',
                      'KnightsMill-v1'):
            path = os.path.join(tmp, '%s.xml' % model)
            with open(path, 'w') as f:
                f.write(re.sub(
                    r"<cpu mode='custom'.*?</cpu>",
                    "<cpu mode='custom' match='exact' check='full'>"
                    "<model fallback='forbid'>%s</model></cpu>" % model,
                    text, flags=re.S))
            rc, out, err = cli.run('profile', 'compare', GENOA_HOST,
                                   GENOA_HOST, '--guest', path, '-f', 'json')
            self.assertIn(rc, (0, 1), (model, err))
            origin = json.loads(out)['guest']['origin']
            self.assertIn('%s expanded by' % model, origin)
            if not local_libvirt_knows(model):
                self.assertIn('the CPU map of a newer libvirt', origin)

    def test_genoa_guest_is_judged_whatever_the_local_libvirt_knows(self):
        with open(GUEST) as f:
            text = f.read()
        text = re.sub(
            r"<cpu mode='custom'.*?</cpu>",
            "<cpu mode='custom' match='exact' check='full'>"
            "<model fallback='forbid'>EPYC-Genoa</model><vendor>AMD"
            "</vendor></cpu>", text, flags=re.S)
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'genoa.xml')
        with open(path, 'w') as f:
            f.write(text)
        rc, out, err = cli.run('profile', 'compare', GENOA_HOST, GENOA_HOST,
                               '--guest', path, '-f', 'json')
        self.assertIn(rc, (0, 1), err)
        guest = json.loads(out)['guest']
        self.assertIn('EPYC-Genoa expanded by', guest['origin'])
        if not local_libvirt_knows('EPYC-Genoa'):
            self.assertIn('the CPU map of a newer libvirt', guest['origin'])
            self.assertIn("this machine's libvirt", guest['origin'])
