"""libvirt's element order, helpers that put children into it, and lookups of children
(through ``iterchildren``: lxml's ``find`` parses its path anew on every call)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache

from lxml import etree

from virtkit.xml.search import has_element

#: children of <domain> in the order libvirt writes them
DOMAIN_ORDER = (
    "name",
    "uuid",
    "genid",
    "title",
    "description",
    "metadata",
    "maxMemory",
    "memory",
    "currentMemory",
    "blkiotune",
    "memtune",
    "memoryBacking",
    "vcpu",
    "vcpus",
    "iothreads",
    "iothreadids",
    "defaultiothread",
    "cputune",
    "numatune",
    "resource",
    "sysinfo",
    "bootloader",
    "bootloader_args",
    "os",
    "idmap",
    "features",
    "cpu",
    "clock",
    "on_poweroff",
    "on_reboot",
    "on_crash",
    "on_lockfailure",
    "pm",
    "perf",
    "devices",
    "seclabel",
    "keywrap",
    "launchSecurity",
)

#: children of <os>
OS_ORDER = (
    "type",
    "firmware",
    "init",
    "initarg",
    "initenv",
    "initdir",
    "inituser",
    "initgroup",
    "loader",
    "nvram",
    "kernel",
    "initrd",
    "cmdline",
    "dtb",
    "acpi",
    "boot",
    "bootmenu",
    "smbios",
    "bios",
)

#: device kinds inside <devices>
DEVICES_ORDER = (
    "emulator",
    "disk",
    "controller",
    "lease",
    "filesystem",
    "interface",
    "smartcard",
    "serial",
    "parallel",
    "console",
    "channel",
    "input",
    "tpm",
    "graphics",
    "sound",
    "audio",
    "video",
    "hostdev",
    "redirdev",
    "redirfilter",
    "hub",
    "watchdog",
    "memballoon",
    "rng",
    "nvram",
    "panic",
    "shmem",
    "memory",
    "iommu",
    "vsock",
    "crypto",
)

#: what every device ends with (libvirt's device info)
DEVICE_INFO_ORDER = ("boot", "alias", "master", "rom", "acpi", "address")

#: children of <disk>
DISK_ORDER = (
    "driver",
    "auth",
    "source",
    "backingStore",
    "backenddomain",
    "geometry",
    "blockio",
    "mirror",
    "target",
    "iotune",
    "readonly",
    "shareable",
    "transient",
    "serial",
    "wwn",
    "vendor",
    "product",
    "encryption",
    *DEVICE_INFO_ORDER,
)

#: children of <interface>
INTERFACE_ORDER = (
    "mac",
    "source",
    "vlan",
    "virtualport",
    "bandwidth",
    "port",
    "ip",
    "route",
    "portForward",
    "script",
    "downscript",
    "backenddomain",
    "target",
    "guest",
    "model",
    "driver",
    "backend",
    "filterref",
    "tune",
    "teaming",
    "link",
    "mtu",
    "coalesce",
    *DEVICE_INFO_ORDER,
)

#: children of <interface type='hostdev'>: the host device's driver comes before its source
HOSTDEV_INTERFACE_ORDER = ("mac", "driver", *(t for t in INTERFACE_ORDER[1:] if t != "driver"))

#: children of <serial>, <parallel>, <console> and <channel>
CHARDEV_ORDER = ("source", "protocol", "log", "target", *DEVICE_INFO_ORDER)

#: children of the <source> of a qemu-vdagent character device
VDAGENT_SOURCE_ORDER = ("clipboard", "mouse")

#: children of a disk's <backingStore>
BACKING_STORE_ORDER = ("format", "source", "backingStore")

#: children of <memballoon>
MEMBALLOON_ORDER = ("stats", *DEVICE_INFO_ORDER, "driver")

#: children of <features>, in the order of libvirt's feature table
FEATURES_ORDER = (
    "acpi",
    "apic",
    "pae",
    "hap",
    "viridian",
    "privnet",
    "hyperv",
    "kvm",
    "pvspinlock",
    "capabilities",
    "pmu",
    "vmport",
    "gic",
    "smm",
    "ioapic",
    "hpt",
    "vmcoreinfo",
    "htm",
    "nested-hv",
    "msrs",
    "ccf-assist",
    "xen",
    "cfpc",
    "sbbc",
    "ibs",
    "tcg",
    "async-teardown",
)

#: children of <cputune>
CPUTUNE_ORDER = (
    "shares",
    "period",
    "quota",
    "global_period",
    "global_quota",
    "emulator_period",
    "emulator_quota",
    "iothread_period",
    "iothread_quota",
    "vcpupin",
    "emulatorpin",
    "iothreadpin",
    "emulatorsched",
    "vcpusched",
    "iothreadsched",
    "cachetune",
    "memorytune",
)


def _rank(order: Sequence[str]) -> dict[str, int]:
    """Tag -> its position in ``order``; this module's orders are found by identity (hashing a
    long tuple at every call costs more than the lookup), any other by value."""
    known = _RANKS.get(id(order))
    if known is not None and known[0] is order:
        return known[1]
    return _rank_of(tuple(order))


@lru_cache(maxsize=64)
def _rank_of(order: tuple[str, ...]) -> dict[str, int]:
    return {tag: i for i, tag in enumerate(order)}


_RANKS = {
    id(order): (order, _rank_of(order))
    for order in (
        DOMAIN_ORDER,
        OS_ORDER,
        DEVICES_ORDER,
        DEVICE_INFO_ORDER,
        DISK_ORDER,
        INTERFACE_ORDER,
        HOSTDEV_INTERFACE_ORDER,
        CHARDEV_ORDER,
        VDAGENT_SOURCE_ORDER,
        BACKING_STORE_ORDER,
        MEMBALLOON_ORDER,
        FEATURES_ORDER,
        CPUTUNE_ORDER,
    )
}


def sort_children(parent: etree._Element, order: Sequence[str]) -> None:
    """Put ``parent``'s children into ``order`` (stable); an unlisted child stays right after
    the listed element that precedes it; namespaced children go last, as libvirt writes them."""
    children = list(parent)
    keys = _sort_keys(children, _rank(order), len(order))
    if keys == sorted(keys):
        return
    for pos in sorted(range(len(children)), key=keys.__getitem__):
        parent.append(children[pos])  # appending an existing child moves it to the end


def _sort_keys(children: list[etree._Element], rank: dict[str, int], end: int) -> list[int]:
    """The place in the order of each child, for :func:`sort_children` (``end``: after all)."""
    keys = [rank.get(child.tag, -1) for child in children]
    if -1 not in keys:
        return keys  # every child is listed (the common case): its rank is its place
    keys = []
    last = -1
    for child in children:
        tag = child.tag
        if not isinstance(tag, str):
            keys.append(last)
        elif tag[0] == "{":
            keys.append(end)
        else:
            last = rank.get(tag, last)
            keys.append(last)
    return keys


def first_child(parent: etree._Element, tag: str) -> etree._Element | None:
    """``parent.find(tag)`` for a plain tag."""
    return next(parent.iterchildren(tag), None)


def first_child_with(
    parent: etree._Element, tag: str, name: str, value: str
) -> etree._Element | None:
    """``parent.find(f"{tag}[@{name}='{value}']")``."""
    return next((el for el in parent.iterchildren(tag) if el.get(name) == value), None)


def device_children(root: etree._Element, *tags: str) -> Iterator[etree._Element]:
    """The devices of ``<domain>`` ``root`` named one of ``tags``, in document order."""
    if not has_element(root, *tags):
        return iter(())
    return (el for devices in root.iterchildren("devices") for el in devices.iterchildren(*tags))


def insert_child(
    parent: etree._Element, tag: str, order: Sequence[str], attrib: dict[str, str] | None = None
) -> etree._Element:
    """A new ``<tag>`` inserted at its place in ``order`` (after its last sibling of equal rank)."""
    rank = _rank(order)
    mine = rank[tag]
    el = parent.makeelement(tag, attrib or {})
    for child in parent.iterchildren(reversed=True):
        if isinstance(child.tag, str) and rank.get(child.tag, -1) <= mine:
            child.addnext(el)
            return el
    parent.insert(0, el)
    return el


def set_attrs_first(el: etree._Element, first: dict[str, str]) -> None:
    """Give ``el`` the attributes ``first`` ahead of its existing ones (libvirt's order)."""
    items = el.items()
    if items[: len(first)] == list(first.items()):
        return  # already so (the common case)
    rest = [(k, v) for k, v in items if k not in first]
    el.attrib.clear()
    for key, value in (*first.items(), *rest):
        el.set(key, value)
