"""Talking to libvirt safely: importing it quietly, parsing the XML it
writes with defusedxml (entity expansion refused), and its version
numbers. Shared by the host sources and CPU-model expansion.
"""

import xml.etree.ElementTree as ET  # only for ParseError; parsing is defused

from defusedxml import ElementTree as SafeET
import defusedxml

from migcompat_filter.exception import SourceError


def _silence_libvirt(libvirt):
    # libvirt prints every error to stderr by default; ours are reported as
    # unknown factors with their reason instead.
    libvirt.registerErrorHandler(lambda ctx, err: None, None)


def import_libvirt():
    try:
        import libvirt
    except ImportError as e:  # pragma: no cover - a dependency
        raise SourceError('libvirt-python is not installed: %s' % e)
    _silence_libvirt(libvirt)
    return libvirt


def parse_xml(text, origin):
    """Parse untrusted XML text, refusing entities and DTD tricks."""
    try:
        return SafeET.fromstring(text)
    except defusedxml.DefusedXmlException as e:
        raise SourceError('%s: refused unsafe XML (%s); libvirt never writes '
                          'entities or DTDs, so this file was altered'
                          % (origin, type(e).__name__))
    except ET.ParseError as e:
        raise SourceError('%s: not well-formed XML: %s' % (origin, e))


def version_int_to_str(value):
    """libvirt packs versions as major * 1,000,000 + minor * 1,000 + micro."""
    return '%d.%d.%d' % (value // 1000000, (value // 1000) % 1000,
                         value % 1000)
