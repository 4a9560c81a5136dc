"""Canonical steps for the general part of ``<domain>``: memory, vCPUs, OS, clock, lifecycle."""

from __future__ import annotations

import uuid as uuidlib

from lxml import etree

from virtkit.xml.bitmap import bitmap_attributes, format_bitmap, parse_bitmap
from virtkit.xml.canonical.census import acts_on, creates
from virtkit.xml.canonical.context import Context
from virtkit.xml.canonical.order import (
    DOMAIN_ORDER,
    FEATURES_ORDER,
    OS_ORDER,
    first_child,
    insert_child,
    set_attrs_first,
    sort_children,
)
from virtkit.xml.search import find_all, find_first, has_element
from virtkit.xml.units import bytes_per_unit, to_kib

#: the elements holding a scaled amount of memory (written back in KiB), found in one search:
#: as text, or in the attribute :data:`_MEMORY_ATTRIBUTE` names
_MEMORY_AMOUNTS = etree.XPath(
    " | ".join(
        (
            "memory",
            "currentMemory",
            "maxMemory",
            "memtune/hard_limit",
            "memtune/soft_limit",
            "memtune/swap_hard_limit",
            "memtune/min_guarantee",
            "devices/memory/target/size",
            "devices/memory/target/requested",
            "devices/memory/target/block",
            "devices/memory/source/pagesize",
            "devices/memory/source/alignsize",
            "devices/controller/pcihole64",
            "features/hpt/maxpagesize",
            "cpu/numa/cell[@memory]",
            "memoryBacking/hugepages/page[@size]",
        )
    )
)
#: the tag of an element of :data:`_MEMORY_AMOUNTS` holding its amount in an attribute -> that
#: attribute
_MEMORY_ATTRIBUTE = {"cell": "memory", "page": "size"}


def _kib_text(el: etree._Element) -> None:
    el.text = str(to_kib(int((el.text or "0").strip()), el.get("unit")))
    el.set("unit", "KiB")


@creates()
def drop_inactive_id(root: etree._Element, ctx: Context) -> None:
    """An inactive (persistent) definition has no domain id."""
    if ctx.inactive:
        root.attrib.pop("id", None)


@creates("uuid")
def generate_uuid(root: etree._Element, ctx: Context) -> None:
    """A definition without ``<uuid>`` gets a random one, as libvirt gives it."""
    if first_child(root, "uuid") is None:
        insert_child(root, "uuid", DOMAIN_ORDER).text = str(uuidlib.uuid4())


@acts_on("genid")
@creates()
def generate_genid(root: etree._Element, ctx: Context) -> None:
    """``<genid/>`` asks for a VM generation ID: libvirt draws a random one and writes it, as
    it writes a given one, in a UUID's canonical form."""
    genid = first_child(root, "genid")
    if genid is not None:
        text = (genid.text or "").strip()
        genid.text = str(uuidlib.UUID(text) if text else uuidlib.uuid4())


@creates()
def normalise_memory_units(root: etree._Element, ctx: Context) -> None:
    """Every memory amount in KiB with ``unit='KiB'``, as libvirt stores them."""
    for el in _MEMORY_AMOUNTS(root):
        name = _MEMORY_ATTRIBUTE.get(el.tag)
        if name is None:
            _kib_text(el)
        else:
            el.set(name, str(to_kib(int(el.get(name, "0")), el.get("unit"))))
            el.set("unit", "KiB")


@creates("memory", "currentMemory")
def default_memory(root: etree._Element, ctx: Context) -> None:
    """A definition without a memory total (or a zero one) takes the sum of its NUMA cells;
    ``<currentMemory>`` defaults to (and is capped at) ``<memory>``.

    A total that is given is not recomputed from the NUMA cells: libvirt does that only when
    a driver asks for an ABI update on a new definition (a driver step can)."""
    memory = first_child(root, "memory")
    if memory is None or int(memory.text or 0) == 0:
        cells = sum(
            to_kib(int(cell.get("memory", "0")), cell.get("unit"))
            for cell in find_all(root, "cpu/numa/cell")
        )
        if cells:
            if memory is None:
                memory = insert_child(root, "memory", DOMAIN_ORDER, {"unit": "KiB"})
            memory.text = str(cells)
    if memory is None:
        return
    current = first_child(root, "currentMemory")
    if current is None:
        current = insert_child(root, "currentMemory", DOMAIN_ORDER, {"unit": "KiB"})
        current.text = memory.text
    elif int(current.text or 0) == 0 or int(current.text or 0) > int(memory.text or 0):
        current.text = memory.text


@creates("vcpu")
def default_vcpu(root: etree._Element, ctx: Context) -> None:
    """``<vcpu placement='static'>N</vcpu>`` (one vCPU when absent; ``auto`` when NUMA memory
    placement is automatic and nothing is pinned: no cpuset, no vCPU, emulator or I/O thread
    pin); ``current`` only when it differs from the maximum."""
    vcpu = first_child(root, "vcpu")
    if vcpu is None:
        vcpu = insert_child(root, "vcpu", DOMAIN_ORDER)
        vcpu.text = "1"
    auto_memory = (
        first_child(root, "numatune") is not None
        and find_first(root, "numatune/memory[@placement='auto']") is not None
    )
    if auto_memory and not vcpu.get("cpuset") and not _has_pins(root):
        set_attrs_first(vcpu, {"placement": "auto"})
    elif vcpu.get("placement") is None:
        set_attrs_first(vcpu, {"placement": "static"})
    if vcpu.get("current") is not None and int(vcpu.get("current", "0")) == int(vcpu.text or 0):
        del vcpu.attrib["current"]


def _has_pins(root: etree._Element) -> bool:
    """Whether ``<cputune>`` pins a vCPU, the emulator or an I/O thread."""
    cputune = first_child(root, "cputune")
    return cputune is not None and any(
        first_child(cputune, tag) is not None for tag in ("vcpupin", "emulatorpin", "iothreadpin")
    )


@creates("numatune", "memory")
def default_numatune(root: etree._Element, ctx: Context) -> None:
    """Automatic vCPU placement implies automatic (strict) memory placement; memory without a
    nodeset follows the vCPU placement; the global policy comes before per-node ones."""
    vcpu = first_child(root, "vcpu")
    auto = vcpu is not None and vcpu.get("placement") == "auto"
    numatune = first_child(root, "numatune")
    if numatune is None:
        if not auto:
            return
        numatune = insert_child(root, "numatune", DOMAIN_ORDER)
    memory = first_child(numatune, "memory")
    if memory is None and auto:
        memory = etree.SubElement(numatune, "memory", {"mode": "strict", "placement": "auto"})
    if memory is not None:
        if memory.get("mode") is None:
            set_attrs_first(memory, {"mode": "strict"})
        if memory.get("placement") is None and memory.get("nodeset") is None:
            memory.set("placement", "auto" if auto else "static")
    sort_children(numatune, ("memory", "memnode"))


@acts_on("iothreadids")
@creates("iothread")
def default_iothreads(root: etree._Element, ctx: Context) -> None:
    """``<iothreadids>`` lists as many threads as ``<iothreads>`` says, the missing ones with
    the lowest free ids."""
    ids = first_child(root, "iothreadids")
    if ids is None:
        return
    count = root.findtext("iothreads")
    if not count:
        return
    taken = {int(t.get("id", "0")) for t in ids.iterchildren("iothread")}
    candidate = 1
    while len(taken) < int(count):
        if candidate not in taken:
            etree.SubElement(ids, "iothread", {"id": str(candidate)})
            taken.add(candidate)
        candidate += 1


@creates()
def normalise_bitmaps(root: etree._Element, ctx: Context) -> None:
    """CPU and node sets in libvirt's shortest spelling (``1-2,5-7,^6`` -> ``1-2,5,7``); the
    scheduler sets of ``<cputune>`` are expanded to one entry per thread instead."""
    for el, name in bitmap_attributes(root):
        value = el.get(name)
        if value and not el.tag.endswith("sched"):
            el.set(name, format_bitmap(parse_bitmap(value)))


@creates("devices")
def ensure_devices(root: etree._Element, ctx: Context) -> None:
    """libvirt always writes ``<devices>``, even empty."""
    if first_child(root, "devices") is None:
        insert_child(root, "devices", DOMAIN_ORDER)


_has_device_boot = etree.XPath("boolean(devices/*/boot[@order])")


@creates("boot", "feature")
def default_os(root: etree._Element, ctx: Context) -> None:
    """``<type arch=...>`` defaults to the host architecture; firmware with enrolled keys does
    secure boot unless told; a loader named by its path alone is a ROM; an HVM guest with
    neither a boot order nor per-device boot entries boots from the first disk."""
    os_el = first_child(root, "os")
    if os_el is None:
        return
    os_type = first_child(os_el, "type")
    if os_type is not None and os_type.get("arch") is None:
        rest = dict(os_type.attrib)
        os_type.attrib.clear()
        os_type.attrib.update({"arch": ctx.arch, **rest})
    firmware = first_child(os_el, "firmware")
    if firmware is not None:
        _firmware_features(firmware)
    loader = first_child(os_el, "loader")
    if loader is not None and loader.get("type") is None and (loader.text or "").strip():
        ahead = {k: v for k, v in loader.items() if k in ("readonly", "secure")}
        set_attrs_first(loader, {**ahead, "type": "rom"})  # libvirt writes those two first
    is_hvm = os_type is not None and (os_type.text or "").strip() == "hvm"
    if has_element(root, "boot") and _has_device_boot(root):
        for boot in list(os_el.iterchildren("boot")):
            os_el.remove(boot)
    elif is_hvm and first_child(os_el, "boot") is None:
        insert_child(os_el, "boot", OS_ORDER, {"dev": "hd"})
    sort_children(os_el, OS_ORDER)


def _firmware_features(firmware: etree._Element) -> None:
    """Enrolled keys mean secure boot (a feature added unless the firmware names it); the
    features in libvirt's order: enrolled-keys, then secure-boot."""
    features = {f.get("name"): f for f in firmware.iterchildren("feature")}
    enrolled = features.get("enrolled-keys")
    if enrolled is not None and enrolled.get("enabled") == "yes" and "secure-boot" not in features:
        secure = etree.SubElement(firmware, "feature", {"enabled": "yes", "name": "secure-boot"})
        features["secure-boot"] = secure
    for name in ("enrolled-keys", "secure-boot"):
        if name in features:
            firmware.append(features[name])


@acts_on("numa")
@creates("distances", "sibling")
def numa_cells(root: etree._Element, ctx: Context) -> None:
    """NUMA cells numbered in order when they do not say, their distances completed, and
    ordered by id; the interconnects between them after them."""
    numa = find_first(root, "cpu/numa")
    if numa is not None:
        for number, cell in enumerate(numa.iterchildren("cell")):
            if cell.get("id") is None:
                set_attrs_first(cell, {"id": str(number)})
        if find_first(numa, "cell/distances") is not None:
            _complete_distances(list(numa.iterchildren("cell")))
        cells = sorted(numa.iterchildren("cell"), key=lambda c: int(c.get("id", "0")))
        for cell in cells:
            numa.append(cell)
        for interconnects in list(numa.iterchildren("interconnects")):
            numa.append(interconnects)  # written after the cells


def _complete_distances(cells: list[etree._Element]) -> None:
    """libvirt's reading of NUMA distances, cell by cell in document order: a cell that lists
    a sibling is 10 from itself, and the sibling gets the same distance back unless it
    gives one; each cell with distances lists them by sibling id."""
    try:
        table: dict[int, dict[int, int]] = {}
        for cell in cells:
            own = int(cell.get("id", ""))
            for sibling in cell.iterfind("distances/sibling"):
                other, value = int(sibling.get("id", "")), int(sibling.get("value", ""))
                table.setdefault(own, {own: _LOCAL_DISTANCE})[other] = value
                table.setdefault(other, {other: _LOCAL_DISTANCE}).setdefault(own, value)
    except ValueError:
        return  # unreadable ids and values are left for validation to refuse
    for cell in cells:
        distances = table.get(int(cell.get("id", "")))
        if distances is None:
            continue
        element = first_child(cell, "distances")
        if element is None:
            element = etree.Element("distances")
            cell.insert(0, element)
        for old in list(element):
            element.remove(old)
        for other, value in sorted(distances.items()):
            etree.SubElement(element, "sibling", {"id": str(other), "value": str(value)})


#: the distance of a NUMA cell from itself
_LOCAL_DISTANCE = 10


@acts_on("features")
@creates()
def default_features(root: etree._Element, ctx: Context) -> None:
    """Features in libvirt's order; ``<hyperv>`` enlightenments are ``mode='custom'`` unless
    said otherwise."""
    features = first_child(root, "features")
    if features is None:
        return
    hyperv = first_child(features, "hyperv")
    if hyperv is not None and hyperv.get("mode") is None:
        set_attrs_first(hyperv, {"mode": "custom"})
    smm = first_child(features, "smm")
    tseg = first_child(smm, "tseg") if smm is not None else None
    if tseg is not None:
        _tseg_in_mib(tseg)
    sort_children(features, FEATURES_ORDER)


def _tseg_in_mib(tseg: etree._Element) -> None:
    """The SMM TSEG size in whole MiB (MiB when no unit is given), as libvirt stores it; a
    size libvirt cannot read is left for validation to refuse."""
    try:
        size = int((tseg.text or "").strip()) * bytes_per_unit(tseg.get("unit"), "MiB")
    except ValueError:
        return
    tseg.text = str(size >> 20)
    tseg.attrib.clear()
    tseg.set("unit", "MiB")


@acts_on("cpu")
@creates()
def default_cpu(root: etree._Element, ctx: Context) -> None:
    """A CPU with a model is ``mode='custom' match='exact'``, its model may fall back, its
    features are required; a topology has one die unless said."""
    cpu = first_child(root, "cpu")
    if cpu is None:
        return
    model = first_child(cpu, "model")
    mode = cpu.get("mode")
    if mode is None and model is not None:
        set_attrs_first(cpu, {"mode": "custom", "match": cpu.get("match", "exact")})
    elif mode == "custom" and model is not None and cpu.get("match") is None:
        set_attrs_first(cpu, {"mode": "custom", "match": "exact"})
    if model is not None and (model.text or "").strip() and model.get("fallback") is None:
        set_attrs_first(model, {"fallback": "allow"})
    if cpu.get("mode", "custom") == "custom":
        for feature in cpu.iterchildren("feature"):
            if feature.get("policy") is None:
                set_attrs_first(feature, {"policy": "require"})
    topology = first_child(cpu, "topology")
    if topology is not None and topology.get("dies") is None:
        attrib = dict(topology.attrib)
        topology.attrib.clear()
        for name in ("sockets", "dies", "clusters", "cores", "threads"):
            value = "1" if name == "dies" else attrib.pop(name, None)
            if value is not None:
                topology.set(name, value)
        topology.attrib.update(attrib)


@acts_on("seclabel")
@creates()
def default_seclabels(root: etree._Element, ctx: Context) -> None:
    """Dynamic and static security labels relabel resources unless told not to."""
    for label in root.iterchildren("seclabel"):
        if label.get("relabel") is None and label.get("type") in ("dynamic", "static"):
            label.set("relabel", "no" if label.get("type") == "static" else "yes")


@creates("clock")
def default_clock(root: etree._Element, ctx: Context) -> None:
    """``<clock offset='utc'/>`` when absent."""
    if first_child(root, "clock") is None:
        insert_child(root, "clock", DOMAIN_ORDER, {"offset": "utc"})


@creates("on_poweroff", "on_reboot", "on_crash")
def default_lifecycle(root: etree._Element, ctx: Context) -> None:
    """``on_poweroff`` destroy, ``on_reboot`` restart, ``on_crash`` destroy when absent."""
    for tag, action in (
        ("on_poweroff", "destroy"),
        ("on_reboot", "restart"),
        ("on_crash", "destroy"),
    ):
        if first_child(root, tag) is None:
            insert_child(root, tag, DOMAIN_ORDER).text = action


@creates()
def order_domain(root: etree._Element, ctx: Context) -> None:
    """The children of ``<domain>`` in libvirt's order."""
    sort_children(root, DOMAIN_ORDER)
