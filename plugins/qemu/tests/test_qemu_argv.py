"""Domain XML to QEMU command line: what is translated, and what is refused and how."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
import virtkit
from virtkit.errors import ConfigUnsupportedError, InvalidArgumentError, XMLError
from virtkit.xml import parse_domain
from virtkit_qemu.argv import build_command


def domain(devices: str = "", *, extra: str = "", os_extra: str = "", machine: str = "pc") -> str:
    return (
        f"<domain type='qemu'><name>argv</name><uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>"
        "<memory unit='MiB'>256</memory><currentMemory unit='MiB'>256</currentMemory>"
        "<vcpu>2</vcpu>"
        f"<os><type arch='x86_64' machine='{machine}'>hvm</type>{os_extra}</os>{extra}"
        f"<devices>{devices}</devices></domain>"
    )


def argv(xml: str) -> list[str]:
    return build_command(parse_domain(xml)).argv


def options(args: list[str], option: str) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args) if a == option]


def test_basic_machine_memory_cpus_and_boot() -> None:
    args = argv(
        domain(os_extra="<boot dev='cdrom'/><boot dev='hd'/>", extra="<features><acpi/></features>")
    )
    assert options(args, "-machine") == ["pc,accel=tcg,usb=off,dump-guest-core=off"]
    assert options(args, "-m") == [f"size={256 * 1024}k"]
    assert options(args, "-smp") == ["2,maxcpus=2"]
    assert options(args, "-boot") == ["order=dc"]
    assert options(args, "-uuid") == ["c7a5fdbd-edaf-9455-926a-d65c16db1809"]
    assert "-nodefaults" in args and options(args, "-display") == ["none"]


def test_no_acpi_feature_turns_acpi_off_and_on_reboot_destroy() -> None:
    args = argv(domain(extra="<on_reboot>destroy</on_reboot>"))
    assert "acpi=off" in options(args, "-machine")[0]
    assert "-no-reboot" in args


def test_direct_kernel_boot_and_cpu_topology() -> None:
    args = argv(
        domain(
            os_extra="<kernel>/k/vmlinuz</kernel><initrd>/k/initrd</initrd>"
            "<cmdline>console=ttyS0 quiet</cmdline>",
            extra="<cpu mode='maximum'><topology sockets='1' cores='2' threads='1'/></cpu>",
        )
    )
    assert options(args, "-kernel") == ["/k/vmlinuz"]
    assert options(args, "-initrd") == ["/k/initrd"]
    assert options(args, "-append") == ["console=ttyS0 quiet"]
    assert options(args, "-cpu") == ["max"]
    assert options(args, "-smp") == ["2,maxcpus=2,sockets=1,cores=2,threads=1"]


def test_disks_on_every_bus_with_cache_modes() -> None:
    args = argv(
        domain(
            "<disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='none'/>"
            "<source file='/img/a.qcow2'/><target dev='vda' bus='virtio'/><boot order='1'/></disk>"
            "<disk type='block' device='disk'><driver name='qemu' type='raw' cache='writethrough'/>"
            "<source dev='/dev/sdz'/><target dev='sda' bus='sata'/></disk>"
            "<disk type='file' device='cdrom'><source file='/img/x.iso'/>"
            "<target dev='hdc' bus='ide'/></disk>"
            "<disk type='file' device='disk'><source file='/img/s.raw'/>"
            "<target dev='sdb' bus='scsi'/><readonly/></disk>"
        )
    )
    nodes = [json.loads(o) for o in options(args, "-blockdev")]
    by_name = {n["node-name"]: n for n in nodes}
    assert by_name["file-vda"]["cache"] == {"direct": True, "no-flush": False}
    assert by_name["drive-vda"]["driver"] == "qcow2"
    assert by_name["file-sda"]["driver"] == "host_device"
    assert by_name["drive-hdc"]["read-only"] is True and by_name["drive-sdb"]["read-only"] is True
    devices = options(args, "-device")
    assert any(
        d.startswith("virtio-blk-pci,") and "drive=drive-vda" in d and "bootindex=1" in d
        for d in devices
    )
    assert any(d.startswith("ich9-ahci,id=sata0") for d in devices)
    assert any(d.startswith("ide-hd,bus=sata0.0") and "write-cache=off" in d for d in devices)
    assert any(d.startswith("ide-cd,bus=ide.1,unit=0") for d in devices)
    assert any(d.startswith("lsi,id=scsi0") for d in devices)
    assert any(d.startswith("scsi-hd,bus=scsi0.0") and "scsi-id=1" in d for d in devices)


def test_disk_driver_io_and_discard_reach_the_storage_node() -> None:
    args = argv(
        domain(
            "<disk type='file' device='disk'>"
            "<driver name='qemu' type='raw' cache='none' io='native' discard='ignore'/>"
            "<source file='/img/a.raw'/><target dev='vda' bus='virtio'/></disk>"
        )
    )
    [storage, _] = [json.loads(o) for o in options(args, "-blockdev")]
    assert (storage["aio"], storage["discard"]) == ("native", "ignore")


@pytest.mark.parametrize(
    ("driver", "named"),
    [
        ("<driver name='qemu' type='raw' iothread='1'/>", "attribute 'iothread'"),
        ("<driver name='qemu' type='raw' io='native'/>", "io='native' with cache='default'"),
        ("<driver name='qemu' type='raw' discard='sometimes'/>", "discard='sometimes'"),
    ],
)
def test_disk_driver_attributes_not_honoured_are_refused(driver: str, named: str) -> None:
    disk = f"<disk type='file'>{driver}<source file='/a'/><target dev='vda' bus='virtio'/></disk>"
    with pytest.raises(ConfigUnsupportedError, match=named):
        argv(domain(disk))


def test_explicit_pci_address_is_kept_and_clashes_refused() -> None:
    addr = "<address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0'/>"
    args = argv(
        domain(
            "<interface type='user'><mac address='52:54:00:11:22:33'/><model type='e1000'/>"
            f"{addr}</interface>"
        )
    )
    assert "e1000,netdev=hostnet0,id=net0,mac=52:54:00:11:22:33,bus=pci.0,addr=0x7" in options(
        args, "-device"
    )
    with pytest.raises(
        ConfigUnsupportedError, match=r"0000:00:07.0 asked by /domain/devices/memballoon .*in use"
    ):
        argv(
            domain(
                f"<interface type='user'>{addr}</interface>"
                f"<memballoon model='virtio'>{addr}</memballoon>"
            )
        )


def test_network_serial_console_and_graphics() -> None:
    args = argv(
        domain(
            "<interface type='bridge'><source bridge='br0'/><target dev='vnet7'/>"
            "<model type='virtio'/></interface>"
            "<serial type='unix'><source mode='bind' path='/run/s.sock'/></serial>"
            "<serial type='file'><source path='/var/log/s1.log'/><target port='1'/></serial>"
            "<console type='unix'><source mode='bind' path='/run/s.sock'/>"
            "<target type='serial'/></console>"
            "<graphics type='vnc' port='5905' autoport='no' listen='0.0.0.0'/>"
            "<video><model type='virtio'/></video>"
        )
    )
    assert options(args, "-netdev") == ["tap,id=hostnet0,ifname=vnet7,script=no,downscript=no"]
    assert options(args, "-chardev") == [
        "socket,id=charserial0,path=/run/s.sock,server=on,wait=off",
        "file,id=charserial1,path=/var/log/s1.log",
    ]  # the serial console is serial0 itself, not a third port
    assert options(args, "-vnc") == ["0.0.0.0:5"]
    assert "virtio-vga,id=video0,bus=pci.0,addr=0x2" in options(args, "-device")
    command = build_command(
        parse_domain(
            domain(
                "<interface type='bridge'><source bridge='br0'/><target dev='vnet7'/></interface>"
            )
        )
    )
    assert command.taps == (("vnet7", "br0"),)


GUEST_AGENT = (
    "<controller type='virtio-serial' index='0'><address type='pci' bus='0' slot='6'/>"
    "</controller><channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/>"
    "<address type='virtio-serial' controller='0' bus='0' port='1'/></channel>"
)


def test_channels_are_ports_of_the_virtio_serial_bus() -> None:
    """The guest agent's channel without a path listens in the domain's run-time folder, as
    libvirt's does in its channel folder; a channel may name its socket, or be a pty."""
    command = build_command(
        parse_domain(
            domain(
                GUEST_AGENT + "<channel type='unix'><source mode='bind' path='/run/own.sock'/>"
                "<target type='virtio' name='com.example.own,1'/></channel>"
                "<channel type='pty'><target type='virtio'/></channel>"
            )
        ),
        runtime_dir="/run/vk/d/0123",
    )
    args = command.argv
    assert options(args, "-chardev") == [
        "socket,id=charchannel0,path=/run/vk/d/0123/org.qemu.guest_agent.0,server=on,wait=off",
        "socket,id=charchannel1,path=/run/own.sock,server=on,wait=off",
        "pty,id=charchannel2",
    ]
    assert [d for d in options(args, "-device") if "virtio-serial" in d] == [
        "virtio-serial-pci,id=virtio-serial0,bus=pci.0,addr=0x6",
        "virtserialport,bus=virtio-serial0.0,nr=1,chardev=charchannel0,id=channel0,"
        "name=org.qemu.guest_agent.0",
        "virtserialport,bus=virtio-serial0.0,nr=2,chardev=charchannel1,id=channel1,"
        "name=com.example.own,,1",  # QEMU's escape of a comma
        "virtserialport,bus=virtio-serial0.0,nr=3,chardev=charchannel2,id=channel2",
    ]


@pytest.mark.parametrize(
    ("channel", "error", "message"),
    [
        (
            "<channel type='pty'><target type='guestfwd' address='10.0.2.1' port='4600'/>"
            "</channel>",
            ConfigUnsupportedError,
            "type='guestfwd' .*at /domain/devices/channel/target",
        ),
        ("<channel type='pty'/>", XMLError, "/domain/devices/channel has no <target"),
        (
            "<channel type='pty'><target type='virtio'/>"
            "<address type='virtio-serial' controller='1'/></channel>",
            ConfigUnsupportedError,
            "controllers other than index 0",
        ),
        (
            "<channel type='unix'><target type='virtio' name='../escape'/></channel>",
            XMLError,
            "target name '../escape' cannot name its socket",
        ),
        (
            "<channel type='unix'><target type='virtio' name='" + "n" * 100 + "'/></channel>",
            ConfigUnsupportedError,
            "more than the 107 of a unix socket",
        ),
        (
            "<controller type='virtio-serial' index='1'/>",
            ConfigUnsupportedError,
            "a second virtio-serial controller",
        ),
    ],
)
def test_channels_qemu_cannot_have_are_refused(
    channel: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        build_command(parse_domain(domain(channel)), runtime_dir="/run/vk/d/0123")


def test_sound_cards_play_through_the_audio_backend() -> None:
    """HD Audio cards get their codecs (one duplex codec unless told), the others are one
    device; all play through the domain's ``<audio>``, its first unless a card names one."""
    args = argv(
        domain(
            "<sound model='ich6'><address type='pci' bus='0' slot='4'/></sound>"
            "<sound model='ich9'><codec type='micro'/><codec type='output'/>"
            "<address type='pci' bus='0' slot='5'/></sound>"
            "<sound model='ac97'><audio id='2'/><address type='pci' bus='0' slot='6'/></sound>"
            "<audio id='1' type='none'/><audio id='2' type='none'/>"
        )
    )
    assert [d for d in options(args, "-device") if "sound" in d] == [
        "intel-hda,id=sound0,bus=pci.0,addr=0x4",
        "hda-duplex,id=sound0-codec0,bus=sound0.0,cad=0,audiodev=audio1",
        "ich9-intel-hda,id=sound1,bus=pci.0,addr=0x5",
        "hda-micro,id=sound1-codec0,bus=sound1.0,cad=0,audiodev=audio1",
        "hda-output,id=sound1-codec1,bus=sound1.0,cad=1,audiodev=audio1",
        "AC97,id=sound2,audiodev=audio2,bus=pci.0,addr=0x6",
    ]
    assert options(args, "-audiodev") == ["none,id=audio1", "none,id=audio2"]


@pytest.mark.parametrize(
    ("sound", "named"),
    [
        ("<sound model='sb16'/><audio id='1' type='none'/>", "model='sb16'"),
        ("<sound model='ich9'/>", "without an <audio> backend"),
        ("<sound model='ac97'><codec type='duplex'/></sound><audio id='1'/>", "HD Audio only"),
        ("<sound model='ich9'><codec type='loud'/></sound><audio id='1'/>", "type='loud'"),
    ],
)
def test_sound_qemu_cannot_play_is_refused(sound: str, named: str) -> None:
    with pytest.raises(ConfigUnsupportedError, match=named):
        argv(domain(sound))


def test_q35_uses_its_builtin_sata_and_pcie_root() -> None:
    args = argv(
        domain(
            "<disk type='file' device='disk'><source file='/img/a'/>"
            "<target dev='sda' bus='sata'/></disk>"
            "<controller type='pci' model='pcie-root'/>",
            machine="q35",
        )
    )
    assert any(d.startswith("ide-hd,bus=ide.0") for d in options(args, "-device"))
    assert not any(d.startswith("ich9-ahci") for d in options(args, "-device"))


PC_ADDR = (
    "<address type='pci' domain='0x0000' bus='0x{bus:02x}' slot='0x{slot:02x}' "
    "function='0x{fn:x}'{mf}/>"
)


def at(slot: int, fn: int = 0, bus: int = 0, multifunction: bool = False) -> str:
    return PC_ADDR.format(
        bus=bus, slot=slot, fn=fn, mf=" multifunction='on'" if multifunction else ""
    )


def test_pc_follows_the_canonical_piix3_functions_and_addresses() -> None:
    """libvirt's canonical pc XML: IDE at 0:1.1 (built in, not re-created), USB at 0:1.2."""
    args = argv(
        domain(
            f"<controller type='usb' index='0' model='piix3-uhci'>{at(1, 2)}</controller>"
            "<controller type='pci' index='0' model='pci-root'/>"
            f"<controller type='ide' index='0'>{at(1, 1)}</controller>"
            "<disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/>"
            "<address type='drive' controller='0' bus='1' target='0' unit='0'/></disk>"
            f"<interface type='user'><mac address='52:54:00:00:00:01'/>{at(3)}</interface>"
            f"<video><model type='cirrus' vram='16384' heads='1' primary='yes'/>{at(2)}</video>"
            "<graphics type='vnc'/><audio id='1' type='none'/>"
            f"<memballoon model='virtio'>{at(5)}</memballoon>"
        )
    )
    devices = options(args, "-device")
    assert "piix3-usb-uhci,id=usb,bus=pci.0,addr=0x1.0x2" in devices
    assert not any(d.startswith(("piix3-ide", "ich9-ahci")) for d in devices)
    assert "ide-cd,bus=ide.1,unit=0,id=ide-disk0" in devices
    assert "cirrus-vga,id=video0,bus=pci.0,addr=0x2" in devices
    assert any(d.startswith("rtl8139,") and d.endswith("bus=pci.0,addr=0x3") for d in devices)
    assert "virtio-balloon-pci,id=balloon0,bus=pci.0,addr=0x5" in devices
    assert options(args, "-audiodev") == ["none,id=audio1"]


def test_an_ide_controller_elsewhere_than_the_piix3_is_refused() -> None:
    with pytest.raises(ConfigUnsupportedError, match="built into the machine at 0000:00:01.1"):
        argv(domain(f"<controller type='ide' index='0'>{at(4)}</controller>"))


def test_q35_follows_root_ports_bridges_and_their_buses() -> None:
    args = argv(
        domain(
            f"<controller type='sata' index='0'>{at(0x1F, 2)}</controller>"
            "<controller type='pci' index='0' model='pcie-root'/>"
            # listed out of order: a bus is made before what sits on it
            "<controller type='pci' index='3' model='pcie-to-pci-bridge'>"
            f"<model name='pcie-pci-bridge'/>{at(0, bus=1)}</controller>"
            "<controller type='pci' index='1' model='pcie-root-port'><model name='pcie-root-port'/>"
            f"<target chassis='1' port='0x10'/>{at(2, 0, multifunction=True)}</controller>"
            "<controller type='pci' index='2' model='pcie-root-port'><model name='pcie-root-port'/>"
            f"<target chassis='2' port='0x11'/>{at(2, 1)}</controller>"
            "<disk type='file' device='disk'><source file='/img/a'/>"
            f"<target dev='vda' bus='virtio'/>{at(0, bus=2)}</disk>"
            "<interface type='user'><mac address='52:54:00:00:00:01'/><model type='rtl8139'/>"
            f"{at(1, bus=3)}</interface>",
            machine="pc-q35-7.2",
        )
    )
    devices = options(args, "-device")
    ports = [d for d in devices if d.startswith(("pcie-root-port", "pcie-pci-bridge"))]
    assert ports == [
        "pcie-root-port,id=pci.1,port=0x10,chassis=1,bus=pcie.0,addr=0x2,multifunction=on",
        "pcie-root-port,id=pci.2,port=0x11,chassis=2,bus=pcie.0,addr=0x2.0x1",
        "pcie-pci-bridge,id=pci.3,bus=pci.1,addr=0x0",
    ]
    assert any(d.startswith("virtio-blk-pci,bus=pci.2,addr=0x0,") for d in devices)
    assert any(d.startswith("rtl8139,") and d.endswith("bus=pci.3,addr=0x1") for d in devices)
    assert not any(d.startswith("ich9-ahci") for d in devices)


def test_a_device_on_a_bus_without_controller_is_refused() -> None:
    with pytest.raises(XMLError, match="PCI bus 0x04 .* has no <controller type='pci' index='4'>"):
        argv(domain(f"<memballoon model='virtio'>{at(0, bus=4)}</memballoon>", machine="q35"))


@pytest.mark.parametrize(
    ("devices", "extra", "named"),
    [
        ("<hostdev mode='subsystem' type='pci'/>", "", "<hostdev>"),
        (
            "<interface type='network'><source network='default'/></interface>",
            "",
            "interface type 'network'",
        ),
        ("<disk type='network' device='disk'><target dev='vda'/></disk>", "", "type='network'"),
        (
            "<disk type='file' device='floppy'><source file='/f'/><target dev='fda'/></disk>",
            "",
            "device='floppy'",
        ),
        ("<video><model type='qxl'/></video>", "", "video model 'qxl'"),
        ("<graphics type='spice'/>", "", "type='spice'"),
        (
            "<disk type='file'><source file='/a'/><target dev='sda' bus='sata'/><readonly/></disk>",
            "",
            "read-only hard disk",
        ),
        ("", "<vcpu cpuset='0-1'>2</vcpu>", "cpuset"),
        ("", "<on_poweroff>preserve</on_poweroff>", "on_poweroff"),
        ("", "<memtune><hard_limit>1</hard_limit></memtune>", "<memtune>"),
        ("", "<features><hyperv/></features>", "<hyperv>"),
        ("<controller type='pci' model='pcie-expander-bus' index='1'/>", "", "pcie-expander-bus"),
        (
            "<controller type='pci' model='pcie-root-port' index='1'><target chassis='1' "
            "port='0x8'/><address type='pci' bus='0' slot='3'/></controller>",
            "",
            "without PCIe",
        ),
    ],
)
def test_unsupported_xml_is_refused_naming_the_element(
    devices: str, extra: str, named: str
) -> None:
    xml = domain(devices, extra=extra)
    if "<vcpu cpuset" in extra:
        xml = xml.replace("<vcpu>2</vcpu>", "")
    with pytest.raises(ConfigUnsupportedError) as caught:
        argv(xml)
    assert named in caught.value.message and " at /domain/" in caught.value.message


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        ("<domain type='qemu'><name>x</name></domain>", "no <memory>"),
        (
            "<domain type='qemu'><name>x</name><memory unit='parsecs'>1</memory></domain>",
            "unknown unit",
        ),
        ("<domain type='qemu'><name>x</name><memory>lots</memory></domain>", "lots"),
        (
            domain("<disk type='file' device='disk'><target dev='vda'/></disk>"),
            "needs <source file",
        ),
        (domain("<disk type='file' device='disk'><source file='/a'/></disk>"), "no <target"),
    ],
)
def test_bad_xml_is_an_xml_error_saying_what(xml: str, message: str) -> None:
    with pytest.raises(XMLError, match=message):
        argv(xml)


def test_domxml_to_native_through_the_connection(uri: str) -> None:
    with virtkit.open(uri) as conn:
        text = conn.domain_xml_to_native("qemu-argv", domain())
        assert shlex.split(text)[0].endswith("qemu-system-x86_64")
        assert "guest=argv,debug-threads=on" in shlex.split(text)
        with pytest.raises(InvalidArgumentError, match="xen-xl"):
            conn.domain_xml_to_native("xen-xl", domain())
        with pytest.raises(XMLError):
            conn.domain_xml_to_native("qemu-argv", "<domain type='qemu'><name>x</name>")


def test_a_root_too_deep_for_sockets_refuses_start_but_not_the_command_line(
    tmp_path: Path,
) -> None:
    """Under a root whose socket paths would be too long, domxml-to-native still shows the
    command line; only starting there is refused, saying why."""
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    with virtkit.open(f"qemu:///embed?root={deep}") as conn:
        xml = domain()
        assert "guest=argv,debug-threads=on" in conn.domain_xml_to_native("qemu-argv", xml)
        dom = conn.define_xml(xml)
        with pytest.raises(ConfigUnsupportedError, match="too deep for QEMU's unix sockets"):
            dom.create()
        assert not dom.is_active()
