"""The QEMU driver's CPU defaults: the machine's default model, and how strictly the guest
CPU is checked against the host."""

from __future__ import annotations

from lxml import etree
from virtkit.xml import Context
from virtkit.xml.bitmap import format_bitmap, parse_bitmap
from virtkit.xml.canonical.census import acts_on, creates
from virtkit.xml.canonical.order import DOMAIN_ORDER, first_child, insert_child, set_attrs_first

from virtkit_qemu.canonical.context import accel_of, caps_of, is_s390, is_x86, platform_of

#: architectures libvirt models guest CPUs of (KVM on ARM takes the host's)
_CPU_ARCHES = ("i686", "x86_64", "ppc64", "ppc64le", "s390x", "armv7l", "aarch64")

#: CPU mode -> the check libvirt assumes when none is given
_CHECKS = {"host-passthrough": "none", "maximum": "none", "host-model": "partial"}

#: s390 machine types on which KVM runs no CPU model but the host's own
_S390_PASSTHROUGH_ONLY = frozenset(f"s390-ccw-virtio-2.{minor}" for minor in (4, 5, 6, 7))


@creates("cpu", "model")
def default_cpu_model(root: etree._Element, ctx: Context) -> None:
    """A guest CPU without a model runs the machine type's default model (when QEMU reports
    one), checked by nobody. A default of ``host`` is the host model on s390 where QEMU
    reports that model and the machine type can run it, else host-passthrough."""
    cpu = first_child(root, "cpu")
    if cpu is not None and (
        cpu.get("mode", "custom") != "custom" or first_child(cpu, "model") is not None
    ):
        return
    caps, accel = caps_of(ctx), accel_of(root)
    arch, machine = platform_of(root, caps)
    if arch not in _CPU_ARCHES or (arch in ("armv7l", "aarch64") and accel == "kvm"):
        return
    model = caps.default_cpu(machine, accel)
    if model is None:
        return
    if cpu is None:
        cpu = insert_child(root, "cpu", DOMAIN_ORDER)
    if model == "host":
        host_model = (
            is_s390(arch)
            and accel in caps.host_models
            and not (accel == "kvm" and machine in _S390_PASSTHROUGH_ONLY)
        )
        mode = "host-model" if host_model else "host-passthrough"
        set_attrs_first(cpu, {"mode": mode, "check": _CHECKS[mode]})
        return
    set_attrs_first(cpu, {"mode": "custom", "match": "exact", "check": "none"})
    element = etree.Element("model", {"fallback": "forbid"})
    element.text = model
    cpu.insert(0, element)


@acts_on("cpu")
@creates()
def cpu_check(root: etree._Element, ctx: Context) -> None:
    """The default ``check`` of each CPU mode (a custom CPU under TCG is not checked); a
    host-passthrough CPU on x86 is not migratable unless QEMU can filter its features; an
    empty ``<cpu>`` and a nameless model of a host CPU say nothing and are dropped."""
    cpu = first_child(root, "cpu")
    if cpu is None:
        return
    if not cpu.attrib and not any(isinstance(c.tag, str) for c in cpu):
        root.remove(cpu)
        return
    if cpu.get("mode") is None and first_child(cpu, "model") is None:
        return
    mode = cpu.get("mode", "custom")
    model = first_child(cpu, "model")
    nameless = model is not None and not (model.text or "").strip()
    if mode != "custom" and model is not None and nameless and set(model.attrib) <= {"fallback"}:
        cpu.remove(model)
    check = cpu.get("check") or _CHECKS.get(mode)
    if check is None and mode == "custom":
        check = "none" if root.get("type") == "qemu" else "partial"
    first = {k: cpu.get(k, "") for k in ("mode", "match") if cpu.get(k)}
    if check:
        first["check"] = check
    if (
        mode in ("host-passthrough", "maximum")
        and cpu.get("migratable") is None
        and not caps_of(ctx).has("cpu.migratable")
        and is_x86(platform_of(root, caps_of(ctx))[0])
    ):
        first["migratable"] = "off"
    set_attrs_first(cpu, first)


@acts_on("numa")
@creates()
def numa_fill_node0(root: etree._Element, ctx: Context) -> None:
    """When the NUMA cells list fewer vCPUs than the domain has, the vCPUs no other cell
    claims go to cell 0 (QEMU would otherwise leave them outside every node)."""
    vcpu = first_child(root, "vcpu")
    cells = list(root.iterfind("cpu/numa/cell"))
    if not cells or vcpu is None:
        return
    try:
        count = int((vcpu.text or "").strip())
        cpus = {int(cell.get("id", "")): _cell_cpus(cell) for cell in cells}
    except ValueError:
        return  # unreadable: left for validation to refuse
    if sum(len(listed) for listed in cpus.values()) >= count or 0 not in cpus:
        return
    claimed = set().union(*(listed for node, listed in cpus.items() if node != 0))
    node0 = next(cell for cell in cells if int(cell.get("id", "")) == 0)
    node0.set("cpus", format_bitmap(set(range(count)) - claimed))


def _cell_cpus(cell: etree._Element) -> frozenset[int]:
    """The vCPUs a NUMA cell lists (none for a memory-only cell)."""
    listed = cell.get("cpus")
    return parse_bitmap(listed) if listed else frozenset()
