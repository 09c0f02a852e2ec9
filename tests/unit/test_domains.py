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

"""Running guests from libvirt domain XML: the real dumps and small variants.

The real dumps are tests/fixtures/guests (a running host-model guest on an
L1 nested EPYC host, libvirt 9.0, see tests/fixtures/README.rst). The
hand-written variants change one thing each; their <cpu> forms are the ones
libvirt 9.0 writes for a running guest (seen on this project's machines).
"""

import json
import xml.etree.ElementTree as ET

import libvirt
import testtools

from migcompat_filter import exception
from migcompat_filter.host import domains
from tests.unit.guest_xml import CUSTOM_CPU
from tests.unit.guest_xml import domain
from tests.unit.guest_xml import invtsc
from tests.unit.guest_xml import LIVE
from tests.unit.guest_xml import MIGRATABLE
from tests.unit.guest_xml import passthrough
from tests.unit.guest_xml import UUID


class TestParseRealDumps(testtools.TestCase):

    def test_live_host_model_guest(self):
        g = domains.parse_domain(LIVE, 'live.xml')
        self.assertEqual(UUID, g.uuid)
        self.assertEqual('instance-0000002a', g.name)
        self.assertEqual('kvm', g.virt_type)
        self.assertEqual(('custom', 'exact', 'full'),
                         (g.mode, g.match, g.check))
        self.assertEqual('host-model', g.nova_mode)
        self.assertIn('vendor', g.mode_basis)
        self.assertEqual(('kvm64', 'forbid', 'AMD'),
                         (g.model, g.fallback, g.vendor))
        self.assertEqual(26, len(g.features))
        self.assertEqual('disable', g.features['arch-capabilities'])
        self.assertEqual('require', g.features['gfni'])
        self.assertNotIn('invtsc', g.features)
        self.assertEqual(('x86_64', 'pc-q35-7.2', 'hvm'),
                         (g.arch, g.machine, g.os_type))
        self.assertIsNone(g.tsc)  # only an hpet timer
        self.assertFalse(g.invtsc)
        self.assertIsNone(g.migratable)
        self.assertIsNone(g.maxphysaddr)

    def test_migratable_view_same_guest(self):
        g = domains.parse_domain(MIGRATABLE, 'migratable.xml')
        self.assertEqual(('custom', 'partial', 'host-model'),
                         (g.mode, g.check, g.nova_mode))
        # The live XML says what the running guest has: with
        # arch-capabilities disabled its bits are off, though the
        # migratable view still lists them as required.
        live = domains.parse_domain(LIVE, 'live.xml')
        self.assertEqual('disable', live.features['rdctl-no'])
        self.assertEqual('require', g.features['rdctl-no'])

    def test_to_dict_is_plain_json(self):
        d = domains.parse_domain(LIVE, 'live.xml').to_dict()
        self.assertEqual(d, json.loads(json.dumps(d)))
        self.assertEqual(set(domains.Guest.FIELDS), set(d))


class TestParseVariants(testtools.TestCase):

    def parse(self, text):
        return domains.parse_domain(text, 'variant.xml')

    def test_custom_without_vendor(self):
        g = self.parse(domain())
        self.assertEqual(('custom', 'custom', 'Opteron_G3'),
                         (g.mode, g.nova_mode, g.model))
        self.assertIsNone(g.vendor)
        self.assertEqual({'svm': 'disable', 'x2apic': 'require',
                          'pcid': 'require', 'monitor': 'disable'},
                         g.features)
        self.assertEqual({'x2apic', 'pcid'}, g.required_features())
        self.assertEqual({'svm', 'monitor'}, g.disabled_features())

    def test_libvirt_default_cpu_is_custom(self):
        # A guest defined without <cpu> runs libvirt 9.0's default qemu64;
        # its live XML says so.
        g = self.parse(domain(cpu="""<cpu mode='custom' match='exact'
            check='full'><model fallback='forbid'>qemu64</model>
            <feature policy='disable' name='svm'/></cpu>"""))
        self.assertEqual(('custom', 'qemu64'), (g.nova_mode, g.model))

    def test_inactive_host_model(self):
        g = self.parse(domain(cpu="<cpu mode='host-model' check='partial'/>"))
        self.assertEqual(('host-model', 'host-model', None),
                         (g.mode, g.nova_mode, g.model))
        self.assertIn('not expanded', g.mode_basis)

    def test_mode_defaults_to_custom_and_policy_to_require(self):
        g = self.parse(domain(cpu="""<cpu match='exact'><model>EPYC</model>
            <feature name='x2apic'/></cpu>"""))
        self.assertEqual(('custom', 'custom'), (g.mode, g.nova_mode))
        self.assertEqual({'x2apic': 'require'}, g.features)

    def test_host_passthrough_migratable(self):
        for attr, want in ((None, None), ('on', True), ('off', False)):
            g = self.parse(passthrough(attr))
            self.assertEqual(('host-passthrough', 'host-passthrough'),
                             (g.mode, g.nova_mode))
            self.assertIs(want, g.migratable, attr)
            self.assertIsNone(g.model)

    def test_maximum_is_judged_as_passthrough(self):
        g = self.parse(domain(cpu="<cpu mode='maximum' migratable='off'/>"))
        self.assertEqual(('maximum', 'host-passthrough', False),
                         (g.mode, g.nova_mode, g.migratable))

    def test_invtsc_with_pinned_frequency(self):
        g = self.parse(invtsc("""<clock offset='utc'>
            <timer name='tsc' frequency='2445426000' mode='native'/>
            </clock>"""))
        self.assertTrue(g.invtsc)
        self.assertEqual({'frequency': 2445426000, 'mode': 'native'}, g.tsc)

    def test_invtsc_without_frequency(self):
        g = self.parse(invtsc("<clock offset='utc'/>"))
        self.assertTrue(g.invtsc)
        self.assertIsNone(g.tsc)

    def test_invtsc_forced_and_disabled(self):
        g = self.parse(domain(cpu="""<cpu mode='custom'><model>EPYC</model>
            <feature policy='force' name='invtsc'/></cpu>"""))
        self.assertTrue(g.invtsc)
        g = self.parse(domain(cpu="""<cpu mode='custom'><model>EPYC</model>
            <feature policy='disable' name='invtsc'/></cpu>"""))
        self.assertFalse(g.invtsc)

    def test_tsc_timer_without_frequency(self):
        g = self.parse(domain(clock="""<clock offset='utc'>
            <timer name='tsc' mode='emulate'/></clock>"""))
        self.assertEqual({'frequency': None, 'mode': 'emulate'}, g.tsc)

    def test_maxphysaddr(self):
        g = self.parse(domain(cpu="""<cpu mode='host-passthrough'>
            <maxphysaddr mode='passthrough' limit='39'/></cpu>"""))
        self.assertEqual({'mode': 'passthrough', 'bits': None, 'limit': 39},
                         g.maxphysaddr)
        g = self.parse(domain(cpu="""<cpu mode='custom'><model>EPYC</model>
            <maxphysaddr mode='emulate' bits='42'/></cpu>"""))
        self.assertEqual({'mode': 'emulate', 'bits': 42, 'limit': None},
                         g.maxphysaddr)

    def test_uuid_lower_cased_bytes_accepted(self):
        g = domains.parse_domain(domain(uuid=UUID.upper()).encode(), 'b.xml')
        self.assertEqual(UUID, g.uuid)

    def test_unknown_model_name_is_recorded_not_judged(self):
        g = self.parse(domain(cpu="""<cpu mode='custom'>
            <model>Cascadelake-Server-v9</model></cpu>"""))
        self.assertEqual('Cascadelake-Server-v9', g.model)


class TestBadInput(testtools.TestCase):

    def assertRefused(self, text, *words):
        e = self.assertRaises(exception.InputError, domains.parse_domain,
                              text, 'guest.xml')
        self.assertIn('guest.xml', str(e))
        for word in words:
            self.assertIn(word, str(e))
        # cut_down refuses the same documents: a snapshot stores none.
        self.assertRaises(exception.InputError, domains.cut_down, text,
                          'guest.xml')
        return e

    def test_malformed(self):
        self.assertRefused(LIVE[:200], 'not well-formed')
        self.assertRefused('', 'not well-formed')

    def test_not_a_domain(self):
        self.assertRefused("<capabilities><host/></capabilities>",
                           '<capabilities>', '<domain>')

    def test_no_cpu(self):
        self.assertRefused(domain(cpu=''), 'no <cpu>')

    def test_two_cpus(self):
        self.assertRefused(domain(cpu=CUSTOM_CPU + CUSTOM_CPU), '2 <cpu>')

    def test_dtd_and_entities(self):
        for doc in [
                '<!DOCTYPE domain><domain/>',
                '<!DOCTYPE d [<!ENTITY a "aaaa">]><domain>&a;</domain>',
                '<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                '<domain><name>&x;</name></domain>']:
            self.assertRefused(doc, 'unsafe XML')

    def test_uuid_missing_or_not_a_uuid(self):
        self.assertRefused(LIVE.replace('<uuid>%s</uuid>' % UUID, ''),
                           'no <uuid>')
        # The uuid names the snapshot file: nothing path-like passes.
        self.assertRefused(domain(uuid='../../etc/passwd'), 'not a UUID')

    def test_bad_cpu_values(self):
        self.assertRefused(domain(cpu="<cpu mode='host'/>"), 'CPU mode')
        self.assertRefused(domain(cpu="""<cpu><model>EPYC</model>
            <feature policy='want' name='avx'/></cpu>"""), 'policy', 'avx')
        self.assertRefused(domain(cpu="""<cpu><model>EPYC</model>
            <feature name='avx'/><feature name='avx'/></cpu>"""), 'twice')
        self.assertRefused(domain(cpu="<cpu><feature policy='require'/>"
                                  "</cpu>"), 'no name')
        self.assertRefused(domain(cpu="<cpu mode='host-passthrough' "
                                  "migratable='yes'/>"), 'migratable')
        for bits in ('many', '+42', ' 42', '-1'):
            self.assertRefused(domain(cpu="<cpu mode='custom'><maxphysaddr "
                                      "mode='emulate' bits='%s'/></cpu>"
                                      % bits), 'bits')

    def test_bad_tsc(self):
        bad = "<clock><timer name='tsc' frequency='2.4GHz'/></clock>"
        self.assertRefused(invtsc(bad), 'frequency', '2.4GHz')
        self.assertRefused(invtsc("""<clock><timer name='tsc'/>
            <timer name='tsc'/></clock>"""), 'tsc timers')

    def test_not_text_or_too_large(self):
        self.assertRefused(None, 'expected XML text')
        self.assertRefused(' ' * (domains.MAX_DOMAIN_XML_BYTES + 1) + LIVE,
                           'bytes')


METADATA = """<metadata>
    <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
      <nova:name>payroll-db</nova:name>
      <nova:flavor name="m1.secret"><nova:memory>64</nova:memory></nova:flavor>
      <nova:owner><nova:user uuid="u-1">alice</nova:user>
        <nova:project uuid="p-1">finance</nova:project></nova:owner>
      <nova:root type="image" uuid="img-1"/>
    </nova:instance>
  </metadata>
  <sysinfo type='smbios'><system>
    <entry name='serial'>SERIAL-SECRET</entry></system></sysinfo>
  <launchSecurity type='sev'><dhCert>DHCERT-SECRET</dhCert></launchSecurity>"""


class TestCutDown(testtools.TestCase):

    def test_real_dump_keeps_only_allowed_elements(self):
        for text in (LIVE, MIGRATABLE):
            out = domains.cut_down(text, 'guest.xml')
            root = ET.fromstring(out)
            self.assertEqual('domain', root.tag)
            self.assertEqual({'type': 'kvm'}, root.attrib)  # no id
            self.assertEqual(['name', 'uuid', 'os', 'cpu', 'clock'],
                             [c.tag for c in root])
            self.assertEqual(['type'], [c.tag for c in root.find('os')])
            for secret in ('changeme', 'passwd', '/var/lib/nova',
                           'seclabel', 'graphics', 'disk', '+999',
                           'devices', 'boot'):
                self.assertNotIn(secret, out)

    def test_facts_survive(self):
        full = domains.parse_domain(LIVE, 'a').to_dict()
        cut = domains.parse_domain(domains.cut_down(LIVE, 'a'), 'a')
        self.assertEqual(full, cut.to_dict())

    def test_nova_metadata_sysinfo_launch_security_loader_dropped(self):
        text = LIVE.replace('<boot dev=\'hd\'/>', '<loader readonly="yes">'
                            '/usr/share/OVMF/OVMF_CODE.fd</loader><nvram>'
                            '/var/lib/libvirt/qemu/nvram/x_VARS.fd</nvram>')
        text = text.replace('<vcpu', METADATA + '\n  <vcpu', 1)
        self.assertIn('alice', text)
        out = domains.cut_down(text, 'guest.xml')
        for secret in ('nova', 'alice', 'finance', 'payroll', 'm1.secret',
                       'SERIAL-SECRET', 'DHCERT', 'OVMF', 'nvram', 'changeme',
                       '/var/lib'):
            self.assertNotIn(secret, out)

    def test_tsc_and_maxphysaddr_kept(self):
        text = domain(cpu="""<cpu mode='host-passthrough' migratable='off'>
            <maxphysaddr mode='emulate' bits='42'/></cpu>""",
                      clock="""<clock offset='utc'>
            <timer name='tsc' frequency='2445426000'/></clock>""")
        g = domains.parse_domain(domains.cut_down(text, 'x'), 'x')
        self.assertEqual(2445426000, g.tsc['frequency'])
        self.assertEqual(42, g.maxphysaddr['bits'])
        self.assertFalse(g.migratable)


class _Error(libvirt.libvirtError):
    def __init__(self, code, msg):
        Exception.__init__(self, msg)

        self.get_error_code = lambda: code
        self.get_error_message = lambda: msg


class _Dom(object):
    def __init__(self, calls, uuid, xml=None, error=None):
        self.calls, self.uuid, self.xml, self.error = calls, uuid, xml, error
        self.UUIDString = lambda: uuid  # local in libvirt-python: no RPC

    def XMLDesc(self, flags):
        self.calls.append(('XMLDesc', self.uuid, flags))
        if self.error:
            raise self.error
        return self.xml


class _Conn(object):
    def __init__(self, doms=(), error=None):
        self.calls, self.error = [], error
        self.doms = [_Dom(self.calls, *d) for d in doms]

    def listAllDomains(self, flags):
        self.calls.append(('listAllDomains', flags))
        if self.error:
            raise self.error
        return self.doms

    getURI = staticmethod(lambda: 'qemu+ssh://host1/system')


LIVE_B = "<domain type='kvm' id='12'><uuid>b</uuid></domain>"


class TestListRunning(testtools.TestCase):

    def test_one_list_and_one_xml_read_per_guest(self):
        conn = _Conn([('b', LIVE_B), ('a', LIVE)])
        self.assertEqual([('a', LIVE), ('b', LIVE_B)],
                         domains.list_running(conn))
        self.assertEqual(
            [('listAllDomains', libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE),
             ('XMLDesc', 'b', 0), ('XMLDesc', 'a', 0)], conn.calls)

    def test_vanished_guest_skipped(self):
        conn = _Conn([('a', None, _Error(libvirt.VIR_ERR_NO_DOMAIN, 'gone')),
                      ('b', LIVE_B)])
        self.assertEqual([('b', LIVE_B)], domains.list_running(conn))

    def test_stopped_persistent_guest_skipped(self):
        # Stopped after the list: XMLDesc gives the inactive XML (no id).
        conn = _Conn([('a', MIGRATABLE), ('b', LIVE_B)])
        self.assertEqual([('b', LIVE_B)], domains.list_running(conn))

    def test_other_errors_name_the_uri(self):
        conn = _Conn([('a', None, _Error(libvirt.VIR_ERR_INTERNAL_ERROR,
                                         'boom'))])
        e = self.assertRaises(exception.SourceError, domains.list_running,
                              conn)
        self.assertIn('qemu+ssh://host1/system', str(e))
        self.assertIn('boom', str(e))
        conn = _Conn(error=_Error(libvirt.VIR_ERR_SYSTEM_ERROR, 'denied'))
        e = self.assertRaises(exception.SourceError, domains.list_running,
                              conn, uri='qemu:///system')
        self.assertIn('qemu:///system', str(e))
        self.assertIn('denied', str(e))

    def test_no_guests(self):
        self.assertEqual([], domains.list_running(_Conn()))
