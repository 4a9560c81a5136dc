"""libvirt's canonical form, pinned by golden files (regenerate: VIRTKIT_REGENERATE_GOLDEN=1)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from lxml import etree
from virtkit.xml import GENERIC_STEPS, Context, canonical, format_domain, parse_domain, validate
from virtkit.xml.canonical.order import DOMAIN_ORDER, insert_child

GOLDEN = Path(__file__).parent / "data" / "canonical"
REGENERATE = os.environ.get("VIRTKIT_REGENERATE_GOLDEN") == "1"


@pytest.mark.parametrize("name", sorted(p.name[: -len("-in.xml")] for p in GOLDEN.glob("*-in.xml")))
def test_golden(name: str) -> None:
    source = (GOLDEN / f"{name}-in.xml").read_text()
    output = format_domain(canonical(parse_domain(source)), secure=True)
    expected_path = GOLDEN / f"{name}-out.xml"
    if REGENERATE:
        expected_path.write_text(output)
    assert output == expected_path.read_text()
    validate(output)


def test_canonical_is_idempotent() -> None:
    for path in GOLDEN.glob("*-in.xml"):
        once = canonical(parse_domain(path.read_text()))
        assert canonical(once) == once, path.name


def test_units_are_normalised_to_kib_rounding_up() -> None:
    d = canonical(
        parse_domain("<domain type='kvm'><name>u</name><memory unit='MB'>1</memory></domain>")
    )
    assert d.memory_kib == 977 and d.current_memory_kib == 977
    assert "<memory unit='KiB'>977</memory>" in d.to_xml()


def test_current_memory_is_capped_at_memory() -> None:
    d = canonical(
        parse_domain(
            "<domain type='kvm'><name>u</name><memory unit='GiB'>1</memory>"
            "<currentMemory unit='GiB'>4</currentMemory></domain>"
        )
    )
    assert d.current_memory_kib == d.memory_kib == 1024 * 1024


def test_canonical_does_not_change_the_input_definition() -> None:
    source = (GOLDEN / "basic-in.xml").read_text()
    d = parse_domain(source)
    canonical(d)
    assert d.to_xml() == parse_domain(source).to_xml()


def test_inactive_context_drops_the_domain_id() -> None:
    d = parse_domain("<domain type='kvm' id='7'><name>i</name></domain>")
    assert canonical(d).id == 7
    assert canonical(d, context=Context(inactive=True)).id is None


def test_drivers_extend_the_pipeline() -> None:
    def add_genid(root: etree._Element, ctx: Context) -> None:
        insert_child(root, "genid", DOMAIN_ORDER).text = "43dc0cf8-809b-4adb-9bea-a9abb5f3d90e"

    steps = (*GENERIC_STEPS[:-1], add_genid, GENERIC_STEPS[-1])
    out = canonical(parse_domain((GOLDEN / "basic-in.xml").read_text()), steps=steps).to_xml()
    assert out.index("<uuid>") < out.index("<genid>") < out.index("<memory")


def test_video_for_a_graphical_console_only_with_a_driver_model() -> None:
    source = (
        (GOLDEN / "basic-in.xml").read_text().replace("<video>", "<!--").replace("</video>", "-->")
    )
    d = parse_domain(source)
    assert "<input" not in canonical(d).to_xml() and "<video>" not in canonical(d).to_xml()
    out = format_domain(canonical(d, context=Context(video_type="cirrus")))
    assert "<model type='cirrus' vram='16384' heads='1' primary='yes'/>" in out
    validate(out)


def test_identity_is_generated_when_missing() -> None:
    text = (
        "<domain type='kvm'><name>g</name><devices>"
        "<interface type='network'><source network='default'/></interface></devices></domain>"
    )
    first, second = canonical(parse_domain(text)), canonical(parse_domain(text))
    assert first.uuid is not None and first.uuid != second.uuid
    assert first.devices is not None
    mac = first.devices.interfaces[0].mac
    assert mac is not None and re.fullmatch(r"52:54:00(:[0-9a-f]{2}){3}", mac)
    assert canonical(first) == first


def test_disks_are_inserted_in_target_order_per_bus() -> None:
    text = (
        "<domain type='kvm'><name>d</name><devices>"
        "<disk type='file'><source file='/b'/><target dev='vdb'/></disk>"
        "<disk type='file'><source file='/s'/><target dev='sda' bus='scsi'/></disk>"
        "<disk type='file'><source file='/a'/><target dev='vda'/></disk>"
        "</devices></domain>"
    )
    devices = canonical(parse_domain(text)).devices
    assert devices is not None
    assert [d.target.dev for d in devices.disks if d.target] == ["vda", "vdb", "sda"]
    assert [(c.type, c.index) for c in devices.controllers] == [("scsi", 0)]


@pytest.mark.parametrize(
    ("graphics", "expected"),
    [
        ("<graphics type='vnc'/>", "<graphics type='vnc' port='-1' autoport='yes'>"),
        ("<graphics type='vnc' port='5901'/>", "<graphics type='vnc' port='5901' autoport='no'>"),
        (
            "<graphics type='spice' tlsPort='5902'/>",
            "<graphics type='spice' tlsPort='5902' autoport='no'>",
        ),
        (
            "<graphics type='spice' listen='1.2.3.4'/>",
            "<graphics type='spice'>\n      <listen type='none'/>",
        ),
        ("<graphics type='rdp'/>", "<graphics type='rdp' port='0' autoport='yes'>"),
    ],
)
def test_graphics_ports(graphics: str, expected: str) -> None:
    text = f"<domain type='kvm'><name>g</name><devices>{graphics}</devices></domain>"
    out = format_domain(canonical(parse_domain(text)))
    assert expected in out
    validate(out)


def test_pci_addresses_are_spelled_as_libvirt_spells_them() -> None:
    """Decimal, upper-case, short or misordered addresses are written again; one already in
    libvirt's spelling is left as it is."""
    devices = (
        "<interface type='user'><mac address='52:54:00:00:00:01'/>"
        "<address type='pci' slot='3' bus='0' domain='0' function='0'/></interface>"
        "<interface type='user'><mac address='52:54:00:00:00:02'/>"
        "<address type='pci' domain='0x0000' bus='0x00' slot='0x0A' function='0x1'/></interface>"
        "<interface type='user'><mac address='52:54:00:00:00:03'/>"
        "<address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0' "
        "multifunction='on'/></interface>"
    )
    xml = canonical(
        parse_domain(f"<domain type='kvm'><name>p</name><devices>{devices}</devices></domain>")
    ).to_xml()
    assert re.findall(r"<address [^>]*>", xml) == [
        "<address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>",
        "<address type='pci' domain='0x0000' bus='0x00' slot='0x0a' function='0x1'/>",
        "<address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0' "
        "multifunction='on'/>",
    ]


def _canonical_of(devices: str = "", *, extra: str = "") -> etree._Element:
    """The canonical tree of a small domain with ``extra`` top-level elements and
    ``devices``."""
    text = (
        "<domain type='kvm'><name>c</name><memory unit='KiB'>65536</memory>"
        f"{extra}<devices>{devices}</devices></domain>"
    )
    return etree.fromstring(canonical(parse_domain(text)).to_xml().encode())


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("<tseg>48</tseg>", "48"),
        ("<tseg unit='KiB'>49152</tseg>", "48"),
        ("<tseg unit='G'>1</tseg>", "1024"),
    ],
)
def test_smm_tseg_is_stored_in_mib(written: str, stored: str) -> None:
    root = _canonical_of(extra=f"<features><smm state='on'>{written}</smm></features>")
    tseg = root.find("features/smm/tseg")
    assert (tseg.get("unit"), tseg.text) == ("MiB", stored)


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("<disk type='network' device='cdrom'><target dev='hdc'/></disk>", "file"),
        ("<disk type='volume' device='floppy'><target dev='fda'/></disk>", "file"),
        ("<disk type='block' device='cdrom'><target dev='hdc'/></disk>", "block"),
        (
            "<disk type='network' device='cdrom'><source protocol='http' name='a.iso'>"
            "<host name='example.org'/></source><target dev='hdc'/></disk>",
            "network",
        ),
    ],
)
def test_an_empty_removable_drive_of_a_remote_type_is_a_file_drive(
    written: str, stored: str
) -> None:
    assert _canonical_of(written).find("devices/disk").get("type") == stored


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("<loader stateless='yes'>/bios.bin</loader>", [("type", "rom"), ("stateless", "yes")]),
        (
            "<loader secure='no' readonly='yes'>/efi.fd</loader>",
            [("secure", "no"), ("readonly", "yes"), ("type", "rom")],
        ),
        ("<loader type='pflash'>/efi.fd</loader>", [("type", "pflash")]),
        ("<loader stateless='yes'/>", [("stateless", "yes")]),
    ],
)
def test_a_loader_named_by_its_path_alone_is_a_rom(
    written: str, stored: list[tuple[str, str]]
) -> None:
    root = _canonical_of(extra=f"<os><type>hvm</type>{written}</os>")
    assert root.find("os/loader").items() == stored


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("<feature enabled='yes' name='enrolled-keys'/>", ["enrolled-keys:yes", "secure-boot:yes"]),
        ("<feature enabled='no' name='enrolled-keys'/>", ["enrolled-keys:no"]),
        (
            "<feature enabled='no' name='secure-boot'/>"
            "<feature enabled='yes' name='enrolled-keys'/>",
            ["enrolled-keys:yes", "secure-boot:no"],
        ),
    ],
)
def test_firmware_with_enrolled_keys_does_secure_boot_unless_told(
    written: str, stored: list[str]
) -> None:
    root = _canonical_of(
        extra=f"<os firmware='efi'><type>hvm</type><firmware>{written}</firmware></os>"
    )
    features = root.findall("os/firmware/feature")
    assert [f"{f.get('name')}:{f.get('enabled')}" for f in features] == stored


def test_numa_interconnects_are_written_after_the_cells() -> None:
    root = _canonical_of(
        extra="<vcpu>2</vcpu><cpu><numa><interconnects><latency initiator='0' target='0' "
        "type='access' value='5'/></interconnects><cell id='1' cpus='1' memory='1024'/>"
        "<cell id='0' cpus='0' memory='1024'/></numa></cpu>"
    )
    assert [(c.tag, c.get("id")) for c in root.find("cpu/numa")] == [
        ("cell", "0"),
        ("cell", "1"),
        ("interconnects", None),
    ]


@pytest.mark.parametrize(
    ("cputune", "placement"),
    [
        ("", "auto"),
        ("<cputune><emulatorpin cpuset='1'/></cputune>", "static"),
        ("<cputune><vcpupin vcpu='0' cpuset='1'/></cputune>", "static"),
        ("<cputune><iothreadpin iothread='1' cpuset='1'/></cputune>", "static"),
    ],
)
def test_vcpus_follow_automatic_memory_placement_unless_something_is_pinned(
    cputune: str, placement: str
) -> None:
    root = _canonical_of(
        extra=f"<vcpu placement='static'>2</vcpu><iothreads>1</iothreads>{cputune}"
        "<numatune><memory mode='strict' placement='auto'/></numatune>"
    )
    assert root.find("vcpu").get("placement") == placement


def test_filesystem_modes_are_four_octal_digits_and_vhost_user_has_no_access_mode() -> None:
    root = _canonical_of(
        "<filesystem type='mount' accessmode='mapped' fmode='644' dmode='0755'>"
        "<source dir='/srv'/><target dir='srv'/></filesystem>"
        "<filesystem type='mount'><driver type='virtiofs'/><source socket='/run/fs.sock'/>"
        "<target dir='tag'/></filesystem>"
        "<filesystem type='mount'><source dir='/data'/><target dir='data'/></filesystem>"
    )
    mapped, vhost_user, plain = root.findall("devices/filesystem")
    assert (mapped.get("fmode"), mapped.get("dmode")) == ("0644", "0755")
    assert vhost_user.get("accessmode") is None
    assert plain.get("accessmode") == "passthrough"


def test_usb_redirection_rules_are_spelled_as_libvirt_writes_them() -> None:
    root = _canonical_of(
        "<redirfilter>"
        "<usbdev class='8' vendor='0x15e1' product='0x2007' version='9.4' allow='yes'/>"
        "<usbdev class='-1' vendor='-1' product='-1' version='-1' allow='no'/>"
        "</redirfilter>"
    )
    specific, catch_all = root.findall("devices/redirfilter/usbdev")
    assert dict(specific.attrib) == {
        "class": "0x08",
        "vendor": "0x15E1",
        "product": "0x2007",
        "version": "9.40",
        "allow": "yes",
    }
    assert dict(catch_all.attrib) == {"allow": "no"}


def test_memory_total_comes_from_the_numa_cells_when_missing() -> None:
    text = (
        "<domain type='kvm'><name>n</name><vcpu>2</vcpu><cpu><numa>"
        "<cell id='0' cpus='0' memory='1' unit='MiB'/><cell id='1' cpus='1' memory='2048'/>"
        "</numa></cpu></domain>"
    )
    d = canonical(parse_domain(text))
    assert d.memory_kib == 1024 + 2048 and d.current_memory_kib == 3072
    given = canonical(parse_domain(text.replace("<vcpu>", "<memory>4096</memory><vcpu>")))
    assert given.memory_kib == 4096  # a total that is given stays


def test_numa_distances_are_completed_symmetrically() -> None:
    text = (
        "<domain type='kvm'><name>n</name><memory>3072</memory><vcpu>3</vcpu><cpu><numa>"
        "<cell id='1' cpus='1' memory='1024'/>"
        "<cell id='0' cpus='0' memory='1024'><distances>"
        "<sibling id='2' value='31'/><sibling id='1' value='21'/></distances></cell>"
        "<cell id='2' cpus='2' memory='1024'><distances><sibling id='0' value='41'/>"
        "</distances></cell></numa></cpu></domain>"
    )
    root = etree.fromstring(canonical(parse_domain(text)).to_xml().encode())

    def distances(cell: str) -> list[tuple[str, str]]:
        path = f"cpu/numa/cell[@id='{cell}']/distances/sibling"
        return [(s.get("id"), s.get("value")) for s in root.findall(path)]

    assert distances("0") == [("0", "10"), ("1", "21"), ("2", "31")]
    assert distances("1") == [("0", "21"), ("1", "10")]
    assert distances("2") == [("0", "41"), ("2", "10")]  # its own value wins over symmetry


def test_device_children_are_written_in_libvirts_order() -> None:
    root = _canonical_of(
        "<interface type='network'><source network='default'/><model type='virtio'/>"
        "<port isolated='yes'/><mac address='52:54:00:00:00:01'/></interface>"
        "<interface type='hostdev'><mac address='52:54:00:00:00:02'/>"
        "<source><address type='pci' domain='0' bus='6' slot='18' function='1'/></source>"
        "<driver name='vfio'/></interface>"
        "<serial type='file'><target port='0'/><log file='/tmp/log'/>"
        "<source path='/tmp/serial'/></serial>"
        "<memballoon model='virtio'><address type='pci' domain='0x0000' bus='0x00' "
        "slot='0x05' function='0x0'/><stats period='10'/></memballoon>"
        "<channel type='qemu-vdagent'><source><mouse mode='client'/>"
        "<clipboard copypaste='yes'/></source><target type='virtio'/></channel>"
    )

    def children(path: str) -> list[str]:
        return [child.tag for child in root.find(path)]

    assert children("devices/interface[@type='network']") == ["mac", "source", "port", "model"]
    assert children("devices/interface[@type='hostdev']") == ["mac", "driver", "source"]
    assert children("devices/serial") == ["source", "log", "target"]
    assert children("devices/memballoon") == ["stats", "address"]
    assert children("devices/channel/source") == ["clipboard", "mouse"]


def test_controllers_keep_libvirts_insertion_order() -> None:
    root = _canonical_of(
        "<controller type='usb' index='1' model='ich9-uhci1'/>"
        "<controller type='pci' index='0' model='pci-root'/>"
        "<controller type='usb' index='0' model='ich9-uhci2'/>"
        "<controller type='usb' index='0' model='ich9-ehci1'/>"
        "<controller type='usb' model='qemu-xhci'/>"
        "<controller type='usb' index='1' model='ich9-ehci1'/>"
    )
    found = [(c.get("type"), c.get("index"), c.get("model")) for c in root.iter("controller")]
    assert found == [
        ("usb", "0", "ich9-ehci1"),  # a USB2 controller before its companions
        ("usb", "0", "ich9-uhci2"),
        ("usb", "1", "ich9-ehci1"),
        ("usb", "1", "ich9-uhci1"),  # ordered by index
        ("usb", "2", "qemu-xhci"),  # no index: after the last of its type, then numbered
        ("pci", "0", "pci-root"),  # another type keeps its place after the first USB one
    ]


def test_disk_and_controller_attributes_come_in_libvirts_order() -> None:
    root = _canonical_of(
        "<disk device='cdrom' type='volume'><source volume='v' pool='p'/>"
        "<target bus='ide' dev='hdc'/></disk>"
        "<disk device='disk'><source file='/tmp/a.img'/><target dev='vda'/></disk>"
        "<controller model='none' type='usb' index='0'/>"
    )
    volume, plain = root.findall("devices/disk")
    assert volume.items()[:2] == [("type", "volume"), ("device", "cdrom")]
    assert volume.find("source").items() == [("pool", "p"), ("volume", "v")]
    assert volume.find("target").items() == [("dev", "hdc"), ("bus", "ide")]
    assert plain.items()[:2] == [("type", "file"), ("device", "disk")]  # file by default
    assert plain.find("target").items() == [("dev", "vda"), ("bus", "virtio")]
    assert root.find("devices/controller").items() == [
        ("type", "usb"),
        ("index", "0"),
        ("model", "none"),
    ]


def test_backing_chains_are_written_as_libvirt_writes_them() -> None:
    root = _canonical_of(
        "<disk type='file' device='disk'><source file='/tmp/top.qcow2'/>"
        "<backingStore type='file'><source file='/tmp/base.qcow2'>\n  </source>"
        "<backingStore/><format type='qcow2'/></backingStore>"
        "<target dev='vda' bus='virtio'/></disk>"
    )
    store = root.find("devices/disk/backingStore")
    assert [child.tag for child in store] == ["format", "source", "backingStore"]
    assert store.find("source").text is None  # white space only: written empty


def test_scsi_host_devices_take_free_units_and_get_their_controllers() -> None:
    hostdev = (
        "<hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host{n}'/>"
        "<address bus='0' target='0' unit='{n}'/></source>{address}</hostdev>"
    )
    taken = "<address type='drive' controller='0' bus='0' target='0' unit='2'/>"
    root = _canonical_of(
        "<controller type='usb' index='0'/><controller type='scsi' index='0' model='lsilogic'/>"
        + hostdev.format(n=0, address=taken)
        + "".join(hostdev.format(n=n, address="") for n in range(1, 9))
    )
    units = [
        (a.get("controller"), a.get("unit"))
        for a in root.iterfind("devices/hostdev/address[@type='drive']")
    ]
    assert units == [
        ("0", "2"),
        *[("0", str(u)) for u in (0, 1, 3, 4, 5, 6)],
        ("1", "0"),
        ("1", "1"),
    ]
    scsi = [
        (c.get("index"), c.get("model")) for c in root.iterfind("devices/controller[@type='scsi']")
    ]
    assert scsi == [("0", "lsilogic"), ("1", "lsilogic")]  # the new one keeps the model


def test_interface_coalescing_without_a_frame_limit_is_left_out() -> None:
    nic = "<interface type='network'><source network='default'/>{}</interface>"
    root = _canonical_of(
        nic.format("<coalesce><rx><frames max='7'/></rx></coalesce>")
        + nic.format("<coalesce><rx><frames max='0'/></rx></coalesce>")
        + nic.format("<coalesce><rx/></coalesce>")
    )
    kept = [i.find("coalesce/rx/frames") for i in root.iterfind("devices/interface")]
    assert [None if f is None else f.get("max") for f in kept] == ["7", None, None]
    assert len(root.findall("devices/interface/coalesce")) == 1


def test_virtio_options_of_an_interface_are_kept_only_for_virtio() -> None:
    nic = (
        "<interface type='network'><source network='default'/><model type='{}'/>"
        "<driver name='vhost' queues='{}'/><backend tap='/dev/net/tun' vhost='/dev/vhost-net'/>"
        "</interface>"
    )
    root = _canonical_of(nic.format("e1000", 4) + nic.format("virtio", 1) + nic.format("virtio", 4))
    e1000, single, multi = root.findall("devices/interface")
    assert e1000.find("driver") is None
    assert dict(e1000.find("backend").attrib) == {"tap": "/dev/net/tun"}
    assert dict(single.find("driver").attrib) == {"name": "vhost"}  # one queue: the default
    assert multi.find("driver").get("queues") == "4"
    assert multi.find("backend").get("vhost") == "/dev/vhost-net"


def test_an_empty_genid_is_drawn_and_a_given_one_written_as_a_uuid() -> None:
    def genid(element: str) -> str | None:
        text = f"<domain type='kvm'><name>g</name>{element}<memory>1024</memory></domain>"
        return canonical(parse_domain(text)).read_tree().findtext("genid")

    drawn = [genid("<genid/>") for _ in range(2)]
    assert all(re.fullmatch(r"[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}", g or "") for g in drawn)
    assert drawn[0] != drawn[1]
    given = "2B3A1E38-5E1C-4E3F-9B0D-21C1D4A3F5E7"
    assert genid(f"<genid>{given}</genid>") == given.lower()
    assert genid("") is None  # none asked for, none given
