"""Define stores libvirt's canonical XML (machine version, default controllers, PCI
addresses), and QEMU runs with its devices where that XML says: a dumped definition redefines
and starts cleanly, on pc and on q35."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import virtkit
from lxml import etree
from virtkit.constants import DomainState, DomainXMLFlags
from virtkit.xml import parse_domain
from virtkit_qemu.argv.accel import kvm_problem
from virtkit_qemu.canonical import QemuCaps, SocketFolders, canonical_qemu
from virtkit_qemu.canonical.caps import Machine
from virtkit_qemu.canonical.probe import parse_machines, probe_caps
from virtkit_qemu.qmp import Monitor

GUEST_TYPE = "kvm" if kvm_problem() is None else "qemu"


def guest_xml(name: str, machine: str, folder: Path) -> str:
    qcow2, raw = folder / f"{name}.qcow2", folder / f"{name}.img"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(qcow2), "16M"], check=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "raw", str(raw), "8M"], check=True)
    second = "sata" if machine == "q35" else "ide"
    return (
        f"<domain type='{GUEST_TYPE}'><name>{name}</name><memory unit='MiB'>64</memory>"
        f"<vcpu>1</vcpu><os><type arch='x86_64' machine='{machine}'>hvm</type></os>"
        "<features><acpi/></features><devices>"
        "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
        f"<source file='{qcow2}'/><target dev='vda' bus='virtio'/></disk>"
        "<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
        f"<source file='{raw}'/><target dev='sdb' bus='{second}'/></disk>"
        "<interface type='user'><model type='virtio'/></interface>"
        "<interface type='user'/>"  # the machine's default model
        "<serial type='pty'/></devices></domain>"
    )


@pytest.mark.parametrize("machine", ["pc", "q35"])
def test_dumped_canonical_xml_redefines_and_runs_as_it_says(
    conn: virtkit.Connection, qemu_root: Path, machine: str
) -> None:
    dom = conn.define_xml(guest_xml(f"canon-{machine}", machine, qemu_root))
    dumped = dom.xml_desc(DomainXMLFlags.INACTIVE)
    tree = etree.fromstring(dumped.encode())
    assert tree.findtext("os/type") == "hvm"
    version = tree.find("os/type").get("machine")
    assert version.startswith("pc-q35-" if machine == "q35" else "pc-i440fx-"), version
    root_model = "pcie-root" if machine == "q35" else "pci-root"
    assert tree.find(f"devices/controller[@type='pci'][@model='{root_model}']") is not None
    assert tree.find("devices/controller[@type='usb']") is not None
    for tag in ("disk[target/@bus='virtio']", "interface", "memballoon"):
        for device in tree.xpath(f"devices/{tag}"):
            assert device.find("address[@type='pci']") is not None, f"{tag} has no PCI address"
    if machine == "q35":
        ports = tree.findall("devices/controller[@model='pcie-root-port']")
        assert ports and all(p.find("target").get("chassis") for p in ports)
    else:  # the PIIX3's IDE function, as libvirt writes it
        ide = tree.find("devices/controller[@type='ide']/address")
        assert (ide.get("slot"), ide.get("function")) == ("0x01", "0x1")

    dom.undefine()
    dom = conn.define_xml(dumped)
    assert dom.xml_desc(DomainXMLFlags.INACTIVE) == dumped  # canonical form is a fixed point
    dom.create()
    assert dom.state()[0] == DomainState.RUNNING

    # QEMU placed the virtio disk where the XML says: on the bus of that controller index
    (disk_addr,) = tree.xpath("devices/disk[target/@dev='vda']/address")
    bus, slot = int(disk_addr.get("bus"), 16), int(disk_addr.get("slot"), 16)
    (sock,) = qemu_root.rglob("qmp.sock")
    device = "/machine/peripheral/virtio-disk0"
    with Monitor(sock, name=dom.name()) as mon:
        parent_bus = mon.execute("qom-get", path=device, property="parent_bus")
        devfn = mon.execute("qom-get", path=device, property="addr")
    expected_bus = f"pci.{bus}" if bus else ("pcie.0" if machine == "q35" else "pci.0")
    assert parent_bus.rsplit("/", 1)[-1] == expected_bus, parent_bus
    assert devfn >> 3 == slot
    dom.destroy()


def test_capabilities_of_the_installed_emulator(qemu_binary: str) -> None:
    caps = probe_caps(qemu_binary)
    for accel in ("kvm", "tcg"):
        assert caps.canonical_machine("pc", accel).startswith("pc-i440fx-")
        assert caps.canonical_machine("q35", accel).startswith("pc-q35-")
        assert (caps.default_machine(accel) or "").startswith("pc-i440fx-")
    assert {
        "pcie-root-port",
        "piix3-usb-uhci",
        "qemu-xhci",
        "VGA",
        "lsi",
        "virtio-net",
    } <= caps.flags
    assert probe_caps(qemu_binary) is caps  # asked once per binary and modification time


def test_machine_list_parsing() -> None:
    lines = [
        "Supported machines are:",
        "pc                   Standard PC (i440FX + PIIX, 1996) (alias of pc-i440fx-9.0)",
        "pc-i440fx-9.0        Standard PC (i440FX + PIIX, 1996) (default)",
        "pc-i440fx-8.2        Standard PC (i440FX + PIIX, 1996)",
        "none                 empty machine",
    ]
    machines = {(m.name, m.accel): m for m in parse_machines(lines)}
    assert set(machines) == {
        (n, a) for n in ("pc-i440fx-9.0", "pc-i440fx-8.2", "none") for a in ("kvm", "tcg")
    }
    newest = machines[("pc-i440fx-9.0", "tcg")]
    assert (newest.alias, newest.default) == ("pc", True)
    assert machines[("pc-i440fx-8.2", "kvm")].alias is None


def _canonical_tree(
    devices: str,
    *,
    machine: str = "pc",
    arch: str = "x86_64",
    caps: QemuCaps | None = None,
    extra: str = "",
) -> etree._Element:
    """The inactive canonical tree of a small QEMU domain with ``devices`` (and ``extra``
    top-level elements)."""
    text = (
        f"<domain type='qemu'><name>t</name><memory>65536</memory>{extra}"
        f"<os><type arch='{arch}' machine='{machine}'>hvm</type></os>"
        f"<devices>{devices}</devices></domain>"
    )
    definition = canonical_qemu(parse_domain(text), caps or QemuCaps(arch=arch), inactive=True)
    return definition.read_tree()


def test_vcpus_no_numa_cell_lists_join_cell_0() -> None:
    def cells(vcpus: int, cell0: str, cell1: str) -> list[str | None]:
        numa = (
            f"<vcpu>{vcpus}</vcpu><cpu><numa><cell id='0' {cell0} memory='1024'/>"
            f"<cell id='1' {cell1} memory='1024'/></numa></cpu>"
        )
        tree = _canonical_tree("", extra=numa)
        return [cell.get("cpus") for cell in tree.iterfind("cpu/numa/cell")]

    assert cells(12, "cpus='0'", "cpus='2-4,6'") == ["0-1,5,7-11", "2-4,6"]
    assert cells(4, "cpus='0-1'", "cpus='2-3'") == ["0-1", "2-3"]  # all listed: unchanged
    assert cells(3, "", "cpus='1'") == ["0,2", "1"]  # a memory-only cell 0 takes them too


def _q35_controllers(controllers: str) -> dict[tuple[str, str, str], tuple[str, ...]]:
    """(type, index, model) -> (port, bus, slot, function) of each controller of a q35
    domain's canonical form."""
    tree = _canonical_tree(controllers, machine="q35")
    found = {}
    for ctrl in tree.iterfind("devices/controller"):
        target, address = ctrl.find("target"), ctrl.find("address")
        port = target.get("port", "") if target is not None else ""
        place = (
            tuple(address.get(k, "") for k in ("bus", "slot", "function"))
            if address is not None
            else ()
        )
        found[(ctrl.get("type"), ctrl.get("index"), ctrl.get("model"))] = (port, *place)
    return found


def test_switch_downstream_ports_sit_on_the_upstream_port_numbered_by_slot() -> None:
    found = _q35_controllers(
        "<controller type='pci' index='0' model='pcie-root'/>"
        "<controller type='pci' index='1' model='pcie-root-port'/>"
        "<controller type='pci' index='2' model='pcie-switch-upstream-port'/>"
        "<controller type='pci' index='3' model='pcie-switch-downstream-port'/>"
        "<controller type='pci' index='4' model='pcie-switch-downstream-port'/>"
    )
    assert found[("pci", "2", "pcie-switch-upstream-port")] == ("", "0x01", "0x00", "0x0")
    assert found[("pci", "3", "pcie-switch-downstream-port")] == ("0x0", "0x02", "0x00", "0x0")
    assert found[("pci", "4", "pcie-switch-downstream-port")] == ("0x1", "0x02", "0x01", "0x0")


def test_usb2_companions_without_index_join_their_set_and_set_1_sits_in_slot_1a() -> None:
    found = _q35_controllers(
        "<controller type='usb' model='ich9-ehci1'/><controller type='usb' model='ich9-uhci1'/>"
        "<controller type='usb' model='ich9-ehci1'/><controller type='usb' model='ich9-uhci1'/>"
        "<controller type='usb' model='ich9-uhci1'/>"
    )
    assert found[("usb", "0", "ich9-ehci1")][1:] == ("0x00", "0x1d", "0x7")
    assert found[("usb", "0", "ich9-uhci1")][1:] == ("0x00", "0x1d", "0x0")
    assert found[("usb", "1", "ich9-ehci1")][1:] == ("0x00", "0x1a", "0x7")
    assert found[("usb", "1", "ich9-uhci1")][1:] == ("0x00", "0x1a", "0x0")
    assert ("usb", "2", "ich9-uhci1") in found  # set 1 has its uhci1: a new set


def test_expander_buses_get_bus_numbers_two_below_the_lowest_taken() -> None:
    tree = _canonical_tree(
        "<controller type='pci' index='0' model='pci-root'/>"
        "<controller type='pci' index='1' model='pci-expander-bus'/>"
        "<controller type='pci' index='2' model='pci-expander-bus'><target busNr='200'/>"
        "</controller><controller type='pci' index='3' model='pci-expander-bus'/>"
    )
    numbers = [
        c.find("target").get("busNr")
        for c in tree.iterfind("devices/controller[@model='pci-expander-bus']")
    ]
    assert numbers == ["198", "200", "196"]


def test_a_definition_without_emulator_stores_the_one_the_driver_runs(
    conn: virtkit.Connection, qemu_binary: str
) -> None:
    dom = conn.define_xml(
        f"<domain type='{GUEST_TYPE}'><name>no-emulator</name><memory unit='MiB'>64</memory>"
        "<os><type arch='x86_64' machine='pc'>hvm</type></os></domain>"
    )
    tree = etree.fromstring(dom.xml_desc(DomainXMLFlags.INACTIVE).encode())
    assert tree.findtext("devices/emulator") == qemu_binary
    assert tree.find("devices")[0].tag == "emulator"  # first, where libvirt writes it


def test_transitional_virtio_devices_are_conventional_pci_on_q35() -> None:
    tree = _canonical_tree(
        "<controller type='virtio-serial' index='0' model='virtio-transitional'/>"
        "<controller type='scsi' index='0' model='virtio-non-transitional'/>"
        "<hostdev mode='subsystem' type='scsi_host' model='virtio-transitional'>"
        "<source protocol='vhost' wwpn='naa.5123456789abcde0'/></hostdev>",
        machine="q35",
        caps=QemuCaps(flags=frozenset({"pcie-root-port", "pcie-pci-bridge"})),
    )
    buses = {
        c.get("index"): c.get("model") for c in tree.iterfind("devices/controller[@type='pci']")
    }

    def bus_model(path: str) -> str | None:
        return buses[str(int(tree.find(f"{path}/address").get("bus"), 16))]

    assert bus_model("devices/controller[@type='virtio-serial']") == "pcie-to-pci-bridge"
    assert bus_model("devices/hostdev") == "pcie-to-pci-bridge"
    assert bus_model("devices/controller[@type='scsi']") == "pcie-root-port"


def test_root_ports_fill_free_functions_of_slots_holding_root_ports() -> None:
    placed = "".join(
        "<controller type='pci' model='pcie-root-port'>"
        f"<address type='pci' slot='2' function='{function}'/></controller>"
        for function in range(3)
    )
    found = _q35_controllers(
        "<controller type='pci' model='pcie-root'/>"
        + placed
        + "<controller type='pci' model='pcie-root-port'/>" * 9
    )
    ports = [found[("pci", str(index), "pcie-root-port")] for index in range(4, 13)]
    assert [place[1:] for place in ports[:8]] == [("0x00", "0x01", f"0x{f}") for f in range(8)]
    assert ports[8] == ("0x13", "0x00", "0x02", "0x3")  # slot 1 is full: slot 2's function 3


def test_missing_pci_buses_are_added_as_bridges_after_the_written_ones() -> None:
    tree = _canonical_tree(
        "<controller type='pci' index='2' model='pci-bridge'/>"
        "<interface type='user'><model type='e1000'/>"
        "<address type='pci' domain='0x0000' bus='0x03' slot='0x06' function='0x0'/></interface>"
    )
    pci = [
        (c.get("index"), c.get("model")) for c in tree.iterfind("devices/controller[@type='pci']")
    ]
    assert pci == [
        ("2", "pci-bridge"),
        ("0", "pci-root"),  # appended, as libvirt adds it
        ("1", "pci-bridge"),
        ("3", "pci-bridge"),  # the interface's bus
    ]
    for bridge in tree.iterfind("devices/controller[@model='pci-bridge']"):
        assert bridge.find("address").get("bus") == "0x00", "bridges plug into the root bus"


def test_s390_pci_addresses_get_zpci_identifiers_given_ones_first() -> None:
    def hostdev(n: int, zpci: str) -> str:
        address = f"<address type='pci'>{zpci}</address>" if zpci else ""
        return (
            "<hostdev mode='subsystem' type='pci' managed='no'><driver name='vfio'/><source>"
            f"<address domain='0x000{n}' bus='0x00' slot='0x00' function='0x0'/></source>"
            f"{address}</hostdev>"
        )

    tree = _canonical_tree(
        hostdev(1, "<zpci uid='0x10' fid='0x1'/>")
        + hostdev(2, "")
        + hostdev(3, "<zpci uid='0x53'/>"),
        machine="s390-ccw-virtio",
        arch="s390x",
        caps=QemuCaps(arch="s390x", flags=frozenset({"zpci"})),
    )
    ids = [(z.get("uid"), z.get("fid")) for z in tree.iterfind("devices/hostdev/address/zpci")]
    assert ids == [
        ("0x0010", "0x00000001"),
        ("0x0001", "0x00000002"),  # after the given ones are complete
        ("0x0053", "0x00000000"),  # completed first: the lowest free fid
    ]


@pytest.mark.parametrize(
    ("graphics", "audio"),
    [
        ("", "none"),
        ("<graphics type='vnc'/>", "none"),
        ("<graphics type='spice'/>", "spice"),
        ("<graphics type='egl-headless'/>", None),
        ("<graphics type='egl-headless'/><graphics type='vnc'/>", "none"),
        ("<graphics type='sdl'/>", None),
    ],
)
def test_a_default_audio_backend_only_for_consoles_that_carry_sound(
    graphics: str, audio: str | None
) -> None:
    found = _canonical_tree(graphics).find("devices/audio")
    assert (found.get("type") if found is not None else None) == audio


def test_a_block_copy_mirror_is_raw_unless_told() -> None:
    """(The live form: an inactive definition keeps no mirror.)"""
    text = (
        "<domain type='qemu'><name>t</name><memory>65536</memory>"
        "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>"
        "<disk type='file'><source file='/a.img'/><target dev='vda' bus='virtio'/>"
        "<mirror type='file' job='copy'><source file='/copy.img'/></mirror></disk>"
        "<disk type='file'><source file='/b.img'/><target dev='vdb' bus='virtio'/>"
        "<mirror type='file' job='copy'><format type='qcow2'/><source file='/c.img'/>"
        "</mirror></disk></devices></domain>"
    )
    root = canonical_qemu(parse_domain(text), QemuCaps(arch="x86_64")).read_tree()
    mirrors = root.findall("devices/disk/mirror")
    assert [[(c.tag, c.get("type")) for c in m] for m in mirrors] == [
        [("format", "raw"), ("source", None)],
        [("format", "qcow2"), ("source", None)],
    ]


@pytest.mark.parametrize(
    ("arch", "machine", "host_models", "mode"),
    [
        ("s390x", "s390-ccw-virtio-4.2", {"kvm"}, "host-model"),
        # KVM on these machine types runs no CPU model but the host's own
        ("s390x", "s390-ccw-virtio-2.7", {"kvm"}, "host-passthrough"),
        ("s390x", "s390-ccw-virtio-4.2", set(), "host-passthrough"),  # no host model known
        ("ppc64", "pseries-7.1", {"kvm"}, "host-passthrough"),  # host-model is s390's alone
    ],
)
def test_a_default_cpu_of_host_is_the_host_model_only_where_the_machine_runs_it(
    arch: str, machine: str, host_models: set[str], mode: str
) -> None:
    typename = f"host-{arch}-cpu"
    caps = QemuCaps(
        arch=arch,
        machines=(Machine(name=machine, accel="kvm", default=True, default_cpu=typename),),
        host_models=frozenset(host_models),
    )
    text = (
        "<domain type='kvm'><name>c</name><memory>65536</memory>"
        f"<os><type arch='{arch}' machine='{machine}'>hvm</type></os><devices/></domain>"
    )
    cpu = canonical_qemu(parse_domain(text), caps, inactive=True).read_tree().find("cpu")
    check = "partial" if mode == "host-model" else "none"
    assert dict(cpu.attrib) == {"mode": mode, "check": check}


#: (path, target name, whether libvirt 9.0 forgets it), checked against libvirt 9.0 with its
#: lib folder /var/lib/libvirt/qemu
LIBVIRT_CHANNEL_PATHS = [
    ("{c}/guest.org.qemu.guest_agent.0", "org.qemu.guest_agent.0", True),
    ("{c}/domain-1-guest/org.qemu.guest_agent.1", "org.qemu.guest_agent.1", True),
    ("{c}/domain-1-guest/other.2", "n.2", False),  # not named after its target
    ("{c}/plain/org.qemu.guest_agent.3", "org.qemu.guest_agent.3", False),
    ("/srv/domain-x/org.qemu.guest_agent.4", "org.qemu.guest_agent.4", True),  # anywhere
    ("{c}/a.b/c/n.5", "n.5", True),  # a first component with a dot, whatever follows
    ("/srv/own.sock", "n.6", False),
]


def _canonical_devices(devices: str, *, inactive: bool) -> etree._Element:
    xml = (
        "<domain type='qemu'><name>g</name><memory>65536</memory>"
        f"<os><type arch='x86_64'>hvm</type></os><devices>{devices}</devices></domain>"
    )
    sockets = SocketFolders.of_lib_dir("/var/lib/libvirt/qemu")
    return canonical_qemu(parse_domain(xml), inactive=inactive, sockets=sockets).tree()


def test_an_inactive_definition_forgets_the_channel_sockets_libvirt_made() -> None:
    """A live XML from libvirt given back to define: each virtio channel's socket that libvirt
    made at start is dropped (the next start makes one), others stay; a live parse keeps all."""
    channel_dir = "/var/lib/libvirt/qemu/channel/target"
    channels = "".join(
        f"<channel type='unix'><source mode='bind' path='{path.format(c=channel_dir)}'/>"
        f"<target type='virtio' name='{name}'/></channel>"
        for path, name, _ in LIBVIRT_CHANNEL_PATHS
    )
    for inactive in (True, False):
        tree = _canonical_devices(channels, inactive=inactive)
        kept = [c.find("source") is not None for c in tree.iterfind("devices/channel")]
        expected = [not (inactive and forgotten) for _, _, forgotten in LIBVIRT_CHANNEL_PATHS]
        assert kept == expected, f"inactive={inactive}"


@pytest.mark.parametrize(
    "graphics",
    [
        "<graphics type='vnc' socket='/var/lib/libvirt/qemu/domain-9-g/vnc.sock'/>",
        "<graphics type='vnc'><listen type='socket' socket='/var/lib/libvirt/qemu/g.sock'/>"
        "</graphics>",
        "<graphics type='vnc' socket='/var/lib/libvirt/qemux/vnc.sock'/>",  # a plain prefix
    ],
)
def test_an_inactive_definition_forgets_vnc_sockets_in_libvirts_lib_folder(graphics: str) -> None:
    """Such a console listens on the default address again, on a port chosen at start (as
    libvirt 9.0 does); a socket elsewhere, or a live parse, keeps the socket."""
    vnc = _canonical_devices(graphics, inactive=True).find("devices/graphics")
    assert (vnc.get("port"), vnc.get("autoport"), vnc.get("socket")) == ("-1", "yes", None)
    assert [dict(listen.attrib) for listen in vnc.iterfind("listen")] == [{"type": "address"}]
    live = _canonical_devices(graphics, inactive=False).find("devices/graphics/listen")
    assert live.get("type") == "socket"
    own = _canonical_devices("<graphics type='vnc' socket='/srv/vnc.sock'/>", inactive=True)
    assert own.find("devices/graphics/listen").get("socket") == "/srv/vnc.sock"


def test_define_forgets_the_channel_socket_libvirt_made_for_the_same_uri(
    conn: virtkit.Connection, qemu_root: Path
) -> None:
    """On ``qemu:///embed?root=DIR`` libvirt makes channel sockets under DIR/lib/qemu: a
    definition dumped from its running domain defines without it, and starts with a socket
    of its own."""
    libvirt_socket = f"{qemu_root}/lib/qemu/channel/target/domain-3-g/org.qemu.guest_agent.0"
    xml = guest_xml("sock", "pc", qemu_root).replace(
        "<serial type='pty'/>",
        f"<channel type='unix'><source mode='bind' path='{libvirt_socket}'/>"
        "<target type='virtio' name='org.qemu.guest_agent.0'/></channel>",
    )
    dom = conn.define_xml(xml)
    channel = etree.fromstring(dom.xml_desc(DomainXMLFlags.INACTIVE).encode()).find(
        "devices/channel"
    )
    assert channel.find("source") is None
    dom.create()
    try:
        live = etree.fromstring(dom.xml_desc().encode()).find("devices/channel/source")
        socket = Path(live.get("path"))
        assert socket.is_socket() and socket != Path(libvirt_socket)
        assert not Path(libvirt_socket).parent.exists()
    finally:
        dom.destroy()
