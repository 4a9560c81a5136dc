"""cgroup (v1) limits as libvirt's resource tuning: ``lxc.cgroup.memory.*`` -> ``<memtune>``
(and the memory size), ``lxc.cgroup.cpu.*`` -> ``<cputune>``, ``lxc.cgroup.cpuset.*`` -> the
vCPU set and ``<numatune>``, ``lxc.cgroup.blkio.*`` -> ``<blkiotune>``."""

from __future__ import annotations

from lxml import etree
from virtkit.xml.bitmap import format_bitmap, parse_bitmap

from virtkit_lxc.native.reader import Entry, LxcConfig
from virtkit_lxc.native.values import integer, size_bytes

#: memory of a container whose configuration sets no limit (libvirt's choice), in KiB
DEFAULT_MEMORY_KIB = 64 * 1024

_MEMTUNE = (
    ("lxc.cgroup.memory.limit_in_bytes", "hard_limit"),
    ("lxc.cgroup.memory.soft_limit_in_bytes", "soft_limit"),
    ("lxc.cgroup.memory.memsw.limit_in_bytes", "swap_hard_limit"),
)
#: per-device blkio setting -> <device> child, in the order libvirt writes them
_BLKIO_DEVICE = {
    "lxc.cgroup.blkio.device_weight": "weight",
    "lxc.cgroup.blkio.throttle.read_iops_device": "read_iops_sec",
    "lxc.cgroup.blkio.throttle.write_iops_device": "write_iops_sec",
    "lxc.cgroup.blkio.throttle.read_bps_device": "read_bytes_sec",
    "lxc.cgroup.blkio.throttle.write_bps_device": "write_bytes_sec",
}
_BLKIO_ORDER = tuple(_BLKIO_DEVICE.values())


def memory_kib(config: LxcConfig) -> int:
    """The memory size: the hard limit when there is one."""
    entry = config.first("lxc.cgroup.memory.limit_in_bytes")
    return size_bytes(entry, entry.value) // 1024 if entry else DEFAULT_MEMORY_KIB


def memtune(config: LxcConfig) -> etree._Element | None:
    tune = etree.Element("memtune")
    for key, tag in _MEMTUNE:
        entry = config.first(key)
        if entry is not None:
            kib = size_bytes(entry, entry.value) // 1024
            etree.SubElement(tune, tag, unit="KiB").text = str(kib)
    return tune if len(tune) else None


def cputune(config: LxcConfig) -> etree._Element | None:
    """CPU shares, CFS period and quota (a zero period or quota means unset)."""
    tune = etree.Element("cputune")
    shares = config.first("lxc.cgroup.cpu.shares")
    if shares is not None:
        etree.SubElement(tune, "shares").text = str(integer(shares))
    period = config.first("lxc.cgroup.cpu.cfs_period_us")
    quota = config.first("lxc.cgroup.cpu.cfs_quota_us")
    for tag, entry, signed in (("period", period, False), ("quota", quota, True)):
        value = integer(entry, signed=signed) if entry is not None else 0
        if value:
            etree.SubElement(tune, tag).text = str(value)
    return tune if len(tune) else None


def _bitmap(entry: Entry) -> str:
    try:
        return format_bitmap(parse_bitmap(entry.value))
    except ValueError as exc:
        raise entry.invalid(f"invalid CPU or node set {entry.value!r}: {exc}") from None


def vcpu(config: LxcConfig) -> etree._Element:
    """One vCPU (the LXC driver does not use the count), pinned to ``cpuset.cpus``."""
    element = etree.Element("vcpu", placement="static")
    cpus = config.first("lxc.cgroup.cpuset.cpus")
    if cpus is not None:
        element.set("cpuset", _bitmap(cpus))
    element.text = "1"
    return element


def numatune(config: LxcConfig) -> etree._Element | None:
    """``cpuset.mems`` as a strict memory node set."""
    mems = config.first("lxc.cgroup.cpuset.mems")
    if mems is None:
        return None
    tune = etree.Element("numatune")
    etree.SubElement(tune, "memory", mode="strict", nodeset=_bitmap(mems))
    return tune


def blkiotune(config: LxcConfig) -> etree._Element | None:
    """The blkio weight and per-device (``major:minor value``) weights and throttles; a
    device mentioned several times gathers all its settings."""
    tune = etree.Element("blkiotune")
    weight = config.first("lxc.cgroup.blkio.weight")
    if weight is not None:
        etree.SubElement(tune, "weight").text = str(integer(weight))
    devices: dict[str, dict[str, int]] = {}
    for entry in config.with_prefix("lxc.cgroup.blkio."):
        if entry.key == "lxc.cgroup.blkio.weight":
            continue
        fields = entry.value.split()
        if len(fields) < 2:
            raise entry.invalid(f"expected 'major:minor value', got {entry.value!r}")
        values = devices.setdefault(f"/dev/block/{fields[0]}", {})
        tag = _BLKIO_DEVICE.get(entry.key)
        if tag is None:
            continue  # another blkio setting: libvirt has no equivalent either
        values[tag] = integer(entry, fields[1])
    for path, values in devices.items():
        if not any(values.values()):
            continue
        device = etree.SubElement(tune, "device")
        etree.SubElement(device, "path").text = path
        for tag in _BLKIO_ORDER:
            if values.get(tag):
                etree.SubElement(device, tag).text = str(values[tag])
    return tune if len(tune) else None
