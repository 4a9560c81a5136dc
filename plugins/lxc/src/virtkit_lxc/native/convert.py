"""An LXC configuration as a ``<domain type='lxc'>``, following libvirt's
``domxml-from-native lxc-tools``.

What is converted: name (``lxc.uts.name``), architecture, root filesystem and mount entries,
network, consoles (``lxc.tty.max``), user namespace maps (``lxc.idmap``), cgroup limits and
dropped capabilities. The container runs ``/sbin/init``; settings with no domain XML
equivalent (``lxc.autodev``, ``lxc.pts``, device rules, AppArmor, hooks...) are ignored, as
libvirt ignores them. Each setting is read under its LXC 3.0 name and its legacy one.
"""

from __future__ import annotations

from lxml import etree

from virtkit_lxc.capabilities import CAPABILITIES
from virtkit_lxc.native import mounts, tuning
from virtkit_lxc.native.network import convert_network
from virtkit_lxc.native.reader import LxcConfig, config_error
from virtkit_lxc.native.values import integer

#: LXC and libvirt architecture names libvirt accepts in ``lxc.arch``
_ARCHES = {
    "x86": "i686",
    "amd64": "x86_64",
    **{
        name: name
        for name in (
            "aarch64",
            "alpha",
            "armv6l",
            "armv7l",
            "armv7b",
            "cris",
            "i686",
            "loongarch64",
            "m68k",
            "microblaze",
            "microblazeel",
            "mips",
            "mipsel",
            "mips64",
            "mips64el",
            "openrisc",
            "parisc",
            "parisc64",
            "ppc",
            "ppcle",
            "ppc64",
            "ppc64le",
            "ppcemb",
            "riscv32",
            "riscv64",
            "s390",
            "s390x",
            "sh4",
            "sh4eb",
            "sparc",
            "sparc64",
            "unicore32",
            "x86_64",
            "xtensa",
            "xtensaeb",
        )
    },
}


def config_to_domain(config: LxcConfig) -> etree._Element:
    """The ``<domain>`` tree (before libvirt's defaults are applied)."""
    name = config.first("lxc.uts.name", "lxc.utsname")
    if name is None or not name.value:
        raise config_error("no lxc.uts.name (legacy lxc.utsname): the container needs a name")
    root_fs = mounts.root_filesystem(config)
    other_fs = mounts.mount_filesystems(config)
    network = convert_network(config)
    consoles = _consoles(config)
    idmap = _idmap(config)

    domain = etree.Element("domain", type="lxc")
    etree.SubElement(domain, "name").text = name.value
    memory = str(tuning.memory_kib(config))
    etree.SubElement(domain, "memory", unit="KiB").text = memory
    etree.SubElement(domain, "currentMemory", unit="KiB").text = memory
    _append(
        domain,
        tuning.blkiotune(config),
        tuning.memtune(config),
        tuning.vcpu(config),
        tuning.cputune(config),
        tuning.numatune(config),
        _os(config),
        idmap,
        _features(config, privnet=network.privnet),
    )
    for tag, action in (
        ("on_poweroff", "destroy"),
        ("on_reboot", "restart"),
        ("on_crash", "destroy"),
    ):
        etree.SubElement(domain, tag).text = action
    devices = etree.SubElement(domain, "devices")
    _append(devices, root_fs, *other_fs, *network.interfaces, *network.hostdevs, *consoles)
    return domain


def _append(parent: etree._Element, *children: etree._Element | None) -> None:
    parent.extend(child for child in children if child is not None)


def _os(config: LxcConfig) -> etree._Element:
    os_el = etree.Element("os")
    os_type = etree.SubElement(os_el, "type")
    arch = config.first("lxc.arch")
    if arch is not None and arch.value in _ARCHES:
        os_type.set("arch", _ARCHES[arch.value])
    os_type.text = "exe"
    etree.SubElement(os_el, "init").text = "/sbin/init"
    return os_el


def _features(config: LxcConfig, *, privnet: bool) -> etree._Element:
    """``<privnet/>`` for a container without network settings; every capability allowed but
    those in ``lxc.cap.drop``."""
    features = etree.Element("features")
    if privnet:
        etree.SubElement(features, "privnet")
    caps = etree.SubElement(features, "capabilities", policy="allow")
    drop = config.first("lxc.cap.drop")
    dropped = set(drop.value.split(" ")) if drop is not None else set()
    for cap in CAPABILITIES:
        if cap in dropped:
            etree.SubElement(caps, cap, state="off")
    return features


def _consoles(config: LxcConfig) -> list[etree._Element]:
    """One ``pty`` console per tty (``lxc.tty.max``, legacy ``lxc.tty``)."""
    entry = config.first("lxc.tty.max", "lxc.tty")
    consoles = []
    for port in range(integer(entry) if entry is not None else 0):
        console = etree.Element("console", type="pty")
        etree.SubElement(console, "target", type="lxc", port=str(port))
        consoles.append(console)
    return consoles


def _idmap(config: LxcConfig) -> etree._Element | None:
    """``lxc.idmap = u|g <first> <second> <count>`` lines (legacy ``lxc.id_map``), read as
    libvirt reads them: the first number is the target, the second the start."""
    maps: dict[str, list[etree._Element]] = {"u": [], "g": []}
    for entry in config.all("lxc.idmap", "lxc.id_map"):
        fields = entry.value.split()
        if len(fields) != 4 or fields[0] not in maps:
            raise entry.invalid(f"expected 'u|g <target> <start> <count>', got {entry.value!r}")
        target, start, count = (integer(entry, f) for f in fields[1:])
        maps[fields[0]].append(
            etree.Element(
                "uid" if fields[0] == "u" else "gid",
                start=str(start),
                target=str(target),
                count=str(count),
            )
        )
    if not maps["u"] and not maps["g"]:
        return None
    idmap = etree.Element("idmap")
    idmap.extend([*maps["u"], *maps["g"]])
    return idmap
