"""libvirt's LXC driver defaults on top of the generic ones: the ``libvirt_lxc`` emulator and
``lxc`` console targets (the driver's post-parse callbacks)."""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree
from virtkit.xml import GENERIC_STEPS, Context, DomainDef, Step, canonical
from virtkit.xml.canonical import general

#: the emulator libvirt names in an LXC domain (its container supervisor)
EMULATOR = "/usr/libexec/libvirt_lxc"


def lxc_device_defaults(root: etree._Element, ctx: Context) -> None:
    """``<emulator>`` when absent; a console without a target type is an ``lxc`` console."""
    devices = root.find("devices")
    if devices is None:
        return
    if devices.find("emulator") is None:
        emulator = etree.Element("emulator")
        emulator.text = EMULATOR
        devices.insert(0, emulator)
    for console in devices.iterfind("console"):
        target = console.find("target")
        if target is None:
            target = etree.SubElement(console, "target")
        if target.get("type") is None:
            target.set("type", "lxc")


def _with_lxc_defaults(steps: Sequence[Step]) -> tuple[Step, ...]:
    at = list(steps).index(general.ensure_devices) + 1
    return (*steps[:at], lxc_device_defaults, *steps[at:])


#: the LXC driver's canonical pipeline
LXC_STEPS: tuple[Step, ...] = _with_lxc_defaults(GENERIC_STEPS)

#: for a definition converted from a native config, which (unlike parsed XML) gets no
#: default architecture
NATIVE_STEPS: tuple[Step, ...] = tuple(s for s in LXC_STEPS if s is not general.default_os)


def lxc_canonical(
    definition: DomainDef,
    *,
    steps: Sequence[Step] = LXC_STEPS,
    context: Context | None = None,
) -> DomainDef:
    """``definition`` with libvirt's generic and LXC driver defaults applied."""
    return canonical(definition, steps=steps, context=context)
