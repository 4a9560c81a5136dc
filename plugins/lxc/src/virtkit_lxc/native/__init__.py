"""LXC's own container configuration (``lxc.container.conf``) converted to domain XML: the
``lxc-tools`` native format of ``domxml-from-native``, with libvirt's mapping of each key."""

from __future__ import annotations

from lxml import etree
from virtkit.errors import InvalidArgumentError
from virtkit.xml import format_domain, parse_domain

from virtkit_lxc.canonical import NATIVE_STEPS, lxc_canonical
from virtkit_lxc.native.convert import config_to_domain
from virtkit_lxc.native.reader import read_config

#: the native format name, as libvirt's LXC driver calls it
FORMAT = "lxc-tools"


def config_to_xml(text: str) -> str:
    """The domain XML (live form, libvirt's defaults applied, a fresh UUID) for the LXC
    configuration ``text``. Raises :class:`~virtkit.errors.InvalidArgumentError` or
    :class:`~virtkit.errors.ConfigUnsupportedError` naming the line and key at fault."""
    domain = config_to_domain(read_config(text))
    definition = parse_domain(etree.tostring(domain))
    return format_domain(lxc_canonical(definition, steps=NATIVE_STEPS))


def domain_xml_from_native(native_format: str, native_config: str) -> str:
    """:func:`config_to_xml` for the ``lxc-tools`` format; any other format is refused."""
    if native_format != FORMAT:
        raise InvalidArgumentError(
            f"unsupported native format {native_format!r} (the LXC driver reads {FORMAT!r})"
        )
    return config_to_xml(native_config)


__all__ = ["FORMAT", "config_to_xml", "domain_xml_from_native"]
