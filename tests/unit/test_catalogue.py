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

"""The factor catalogue: readers, rows and rules agree, and every list
keyed by a factor name says what the rows say.
"""

import re
import subprocess
import sys

from stevedore import extension
import testtools

from migcompat_filter.factors import catalogue
from migcompat_filter.factors import kernel
from migcompat_filter.host import reader
from migcompat_filter.host import snapshot
from migcompat_filter import profile as profile_mod
from migcompat_filter.rules import engine
from migcompat_filter.rules import identical
from migcompat_filter.rules import policy
from migcompat_filter.traits import codec as traits


def _installed(namespace):
    """Entry-point names of a namespace, loaded or not."""
    mgr = extension.ExtensionManager(namespace)
    return {ep.name for ep in mgr.list_entry_points()}


def _judged():
    """The factors some installed rule reports on, in any mode."""
    return {rule.factor for rule in engine.all_rules()}


class TestReadersRowsAndRules(testtools.TestCase):

    def test_every_reader_has_a_row(self):
        missing = _installed(catalogue.FACTOR_NAMESPACE) - set(
            catalogue.names())
        self.assertEqual(set(), missing,
                         'factor readers without a catalogue row')

    def test_every_row_has_a_reader(self):
        missing = set(catalogue.names()) - _installed(
            catalogue.FACTOR_NAMESPACE)
        self.assertEqual(set(), missing,
                         'catalogue rows without a factor reader')

    def test_every_row_has_a_rule_or_says_why_not(self):
        judged = _judged()
        for row in catalogue.rows():
            if row.no_rule:
                self.assertNotIn(row.name, judged,
                                 '%s has a rule but says no_rule' % row.name)
            else:
                self.assertIn(row.name, judged,
                              '%s has no rule and no no_rule' % row.name)

    def test_every_rule_is_about_a_catalogued_factor(self):
        names = set(catalogue.names())
        for rule in engine.all_rules():
            self.assertIn(rule.factor, names, type(rule).__name__)
            self.assertLessEqual(set(rule.reads), names,
                                 type(rule).__name__)

    def test_every_builtin_rule_is_loaded(self):
        # One entry point per rule class; none failed to load.
        self.assertEqual(len(_installed(catalogue.RULE_NAMESPACE)),
                         len(engine.all_rules()))

    def test_trait_codes_are_unique_letters(self):
        codes = [row.trait_code for row in catalogue.rows()
                 if row.trait_code]
        self.assertEqual(len(codes), len(set(codes)))
        for code in codes:
            self.assertTrue(re.match('^[A-Z]+$', code), code)
            self.assertFalse(code.startswith('Z'),
                             '%s: Z is the plugin code' % code)
        for row in catalogue.BUILTIN:
            self.assertTrue(row.trait_code, row.name)

    def test_codecs_are_known_kinds(self):
        for row in catalogue.rows():
            self.assertIn(row.codec, (catalogue.TEXT, catalogue.INT,
                                      catalogue.JSON, catalogue.FEATURES))
            self.assertEqual(row.codec == catalogue.FEATURES,
                             bool(row.feature_fields), row.name)


class TestDerivedLists(testtools.TestCase):
    """What is keyed by factor name elsewhere equals what the rows say."""

    def test_profile_schema(self):
        self.assertEqual({r.name: r.schema for r in catalogue.rows()},
                         dict(profile_mod.FACTOR_SCHEMA))

    def test_trait_codecs(self):
        for row in catalogue.rows():
            code, kind = traits.FACTOR_CODECS[row.name]
            self.assertEqual(row.trait_code, code)
            if row.codec == catalogue.FEATURES:
                self.assertEqual(row.feature_fields, kind.fields)
            else:
                self.assertEqual(row.codec, kind)
        self.assertEqual(set(catalogue.names()), set(traits.FACTOR_CODECS))

    def test_similarity_weights(self):
        self.assertEqual({r.name: r.similarity for r in catalogue.rows()
                          if r.similarity},
                         dict(engine.SIMILARITY_WEIGHTS))

    def test_similarity_ignore(self):
        # The cosmetic parts and the per-host fields of every row.
        expected = {}
        for r in catalogue.rows():
            keys = tuple(r.identity_ignore) + tuple(r.per_host_fields)
            if keys:
                expected[r.name] = keys
        self.assertEqual(expected, dict(engine._SIMILARITY_IGNORE))

    def test_cpu_signature_ignores_the_cosmetic_keys_and_vendor(self):
        self.assertEqual(
            set(catalogue.get('cpu_model').identity_ignore) | {'vendor'},
            set(identical.CpuSignatureRule.ignore))

    def test_passthrough_identical(self):
        self.assertEqual(
            tuple(r.name for r in catalogue.rows()
                  if r.passthrough_identical),
            policy.passthrough_identical_factors())

    def test_snapshot_files(self):
        listed = [p for r in catalogue.rows() for p in r.snapshot_files]
        self.assertEqual(set(listed) - set(snapshot.NOVA_FILES),
                         set(snapshot.files()))

    def test_descriptions_come_from_the_rows(self):
        for name, factor in reader.load_factors():
            self.assertEqual(catalogue.get(name).description,
                             factor.description)

    def test_kvm_module_parameters(self):
        self.assertEqual(frozenset(catalogue.KVM_MODULE_PARAMETERS),
                         kernel.MODULE_PARAMS)


class TestPlainData(testtools.TestCase):

    def test_scheduler_side_imports_no_host_libraries(self):
        # nova-scheduler reads the catalogue, traits and rules; it must not
        # pull in libvirt, defusedxml or the readers.
        code = ('import sys\n'
                'from migcompat_filter.factors import catalogue\n'
                'from migcompat_filter.traits import codec as traits\n'
                'from migcompat_filter import rules\n'
                'rules.engine.all_rules()\n'
                'catalogue.rows()\n'
                'bad = [m for m in sys.modules if m.split(".")[0] in '
                '("libvirt", "defusedxml")]\n'
                'bad += [m for m in sys.modules if m.startswith('
                '"migcompat_filter.factors.") and m != '
                '"migcompat_filter.factors.catalogue"]\n'
                'print(" ".join(sorted(bad)))\n')
        out = subprocess.run([sys.executable, '-c', code], check=True,
                             capture_output=True, text=True).stdout
        self.assertEqual('', out.strip())
