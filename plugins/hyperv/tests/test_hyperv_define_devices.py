"""Defining a VM with disks and network adapters, and reading them back.

No Hyper-V host runs here. :class:`HandWrittenHost` is the WinRM client with its transport
replaced: it reads the WS-Management messages the driver really builds and answers with
documents written by hand from the WMI virtualization v2 documentation (Enumerate responses,
``<method>_OUTPUT`` with ``ResultingResourceSettings`` references, ``Msvm_ConcreteJob``
states). It keeps each setting ``AddResourceSettings`` was given, so the dump reads back what
the definition asked for. It checks the driver's side of the exchange, not Hyper-V's behaviour.
"""

from __future__ import annotations

import re
import uuid as uuidlib
from collections.abc import Callable

import pytest
from lxml import etree
from virtkit.constants import DomainXMLFlags
from virtkit.errors import ConfigUnsupportedError, InvalidArgumentError, OperationFailedError
from virtkit.records import DomainRef
from virtkit.xml import parse_domain
from virtkit_hyperv import mapping
from virtkit_hyperv.client import Client
from virtkit_hyperv.driver import HyperVDriver

S = "http://www.w3.org/2003/05/soap-envelope"
A = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
N = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
W = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
V2 = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/virtualization/v2"
NS = {"s": S, "a": A, "n": N, "w": W}
SERVICE = "Msvm_VirtualSystemManagementService"
SERVICE_URI = f"{V2}/{SERVICE}"
SERVICE_KEYS = {
    "CreationClassName": SERVICE,
    "Name": "vmms",
    "SystemCreationClassName": "Msvm_ComputerSystem",
    "SystemName": "HV01",
}
GUID = "6B7A2C1E-0D3F-4E55-9A11-22B3C4D5E6F7"
VSSD_ID = f"Microsoft:{GUID}"
IDE_DEVICE = "83F8638B-8DCA-4152-9EDA-2CA8B33039B4"  # the IDE controllers' device id
SWITCHES = {"External": "SW-EXT-1", "Internal": "SW-INT-2"}
PATH = "\\\\HV01\\root\\virtualization\\v2:"
Props = dict[str, str | list[str]]
Embedded = dict[str, tuple[str, str | list[str]]]
"""An embedded instance's properties: name -> (CIM type, value or values)."""


def escaped(instance_id: str) -> str:
    return instance_id.replace("\\", "\\\\")


def rasd_path(instance_id: str, cim_class: str = "Msvm_ResourceAllocationSettingData") -> str:
    return f'{PATH}{cim_class}.InstanceID="{escaped(instance_id)}"'


def switch_path(name: str) -> str:
    return (
        f'{PATH}Msvm_VirtualEthernetSwitch.CreationClassName="Msvm_VirtualEthernetSwitch",'
        f'Name="{SWITCHES[name]}"'
    )


def item(cim_class: str, props: Props) -> str:
    """One instance in an Enumerate response: a property element per value."""
    parts = []
    for name, value in props.items():
        for one in value if isinstance(value, list) else [value]:
            text = one.replace("&", "&amp;").replace("<", "&lt;")
            parts.append(f"<p:{name}>{text}</p:{name}>")
    return f'<p:{cim_class} xmlns:p="{V2}/{cim_class}">{"".join(parts)}</p:{cim_class}>'


def enumeration(items: list[str]) -> bytes:
    return (
        f'<s:Envelope xmlns:s="{S}" xmlns:n="{N}" xmlns:w="{W}"><s:Body><n:EnumerateResponse>'
        f"<w:Items>{''.join(items)}</w:Items><w:EndOfSequence/></n:EnumerateResponse>"
        "</s:Body></s:Envelope>"
    ).encode()


def output(method: str, code: int, **refs: tuple[str, dict[str, str]]) -> bytes:
    """``<method>_OUTPUT`` with ``ReturnValue`` and endpoint references (class, keys)."""
    eprs = "".join(
        f"<p:{name}><a:Address>{A}/role/anonymous</a:Address><a:ReferenceParameters>"
        f"<w:ResourceURI>{V2}/{cim_class}</w:ResourceURI><w:SelectorSet>"
        + "".join(f'<w:Selector Name="{k}">{v}</w:Selector>' for k, v in keys.items())
        + "</w:SelectorSet></a:ReferenceParameters>"
        f"</p:{name}>"
        for name, (cim_class, keys) in refs.items()
    )
    return (
        f'<s:Envelope xmlns:s="{S}" xmlns:a="{A}" xmlns:w="{W}"><s:Body>'
        f'<p:{method}_OUTPUT xmlns:p="{SERVICE_URI}">{eprs}'
        f"<p:ReturnValue>{code}</p:ReturnValue></p:{method}_OUTPUT></s:Body></s:Envelope>"
    ).encode()


def embedded(text: str) -> tuple[str, Embedded]:
    """An embedded CIM-XML instance: its class, and each property's (TYPE, value(s))."""
    instance = etree.fromstring(text.encode())
    assert instance.tag == "INSTANCE"
    props: Embedded = {}
    for prop in instance:
        values = [str(v.text) for v in prop.iter("VALUE")]
        assert prop.tag in ("PROPERTY", "PROPERTY.ARRAY"), prop.tag
        props[prop.get("NAME", "")] = (
            prop.get("TYPE", ""),
            values if prop.tag == "PROPERTY.ARRAY" else values[0],
        )
    return instance.get("CLASSNAME", ""), props


class HandWrittenHost(Client):
    """The client, its transport answering as the documentation describes a host would."""

    def __init__(self, generation: int = 1) -> None:
        self.generation = generation
        self.endpoint = "https://hv01:5986/wsman"
        self.sent: list[etree._Element] = []
        self.made: list[str] = []  # the object path of each setting added, in order
        self.defined = False
        self.destroyed = False
        # AddResourceSettings of (class, properties) -> None, or the failed job's description
        self.fail: Callable[[str, Embedded], str | None] = lambda cim_class, props: None
        self.failed_job = ""
        self.destroy_code = 0
        self.settings: list[tuple[str, Props]] = [
            (
                "Msvm_MemorySettingData",
                {"InstanceID": f"{VSSD_ID}\\4764334d", "VirtualQuantity": "512"},
            ),
            (
                "Msvm_ProcessorSettingData",
                {"InstanceID": f"{VSSD_ID}\\b637f346", "VirtualQuantity": "1"},
            ),
        ]
        if generation == 1:  # a generation 1 VM comes with its two IDE controllers
            for number in (0, 1):
                self.settings.append(
                    (
                        "Msvm_ResourceAllocationSettingData",
                        {
                            "InstanceID": f"{VSSD_ID}\\{IDE_DEVICE}\\{number}",
                            "ResourceType": "5",
                            "ResourceSubType": "Microsoft:Hyper-V:Emulated IDE Controller",
                            "Address": str(number),
                        },
                    )
                )

    # -------------------------------------------------------------- what the driver sent

    def calls(self, method: str) -> list[etree._Element]:
        """The bodies of the ``method`` invocations sent, in order."""
        tag = f"{{{SERVICE_URI}}}{method}_INPUT"
        return [m.find("s:Body", NS)[0] for m in self.sent if m.find("s:Body", NS)[0].tag == tag]

    def methods(self) -> list[str]:
        found = []
        for message in self.sent:
            body = message.find("s:Body", NS)[0]
            if body.tag.endswith("_INPUT"):
                found.append(etree.QName(body).localname.removesuffix("_INPUT"))
        return found

    # -------------------------------------------------------------- the transport

    def send(self, message: str) -> bytes:
        doc = etree.fromstring(message.encode())
        self.sent.append(doc)
        body = doc.find("s:Body", NS)[0]
        if body.tag == f"{{{N}}}Enumerate":
            return enumeration(self._select(str(body.findtext("w:Filter", namespaces=NS))))
        method = etree.QName(body).localname.removesuffix("_INPUT")
        if method == "DefineSystem":
            self.defined = True
            system = (
                "Msvm_ComputerSystem",
                {"CreationClassName": "Msvm_ComputerSystem", "Name": GUID},
            )
            return output(method, 0, ResultingSystem=system)
        if method == "ModifyResourceSettings":
            return output(method, 0)
        if method == "DestroySystem":
            self.destroyed = self.destroy_code == 0
            return output(method, self.destroy_code)
        assert method == "AddResourceSettings", method
        return self._add(body)

    def _add(self, body: etree._Element) -> bytes:
        cim_class, props = embedded(str(body.findtext(f"{{{SERVICE_URI}}}ResourceSettings")))
        said = self.fail(cim_class, props)
        if said is not None:  # the job Hyper-V started fails
            self.failed_job = said
            return output(
                "AddResourceSettings", 4096, Job=("Msvm_ConcreteJob", {"InstanceID": "JOB-7"})
            )
        instance_id = f"{VSSD_ID}\\{uuidlib.uuid4()}\\0"
        kept: Props = {"InstanceID": instance_id}
        kept.update({name: value for name, (_, value) in props.items()})
        self.settings.append((cim_class, kept))
        self.made.append(rasd_path(instance_id, cim_class))
        made = (cim_class, {"InstanceID": instance_id})
        return output("AddResourceSettings", 0, ResultingResourceSettings=made)

    def _select(self, wql: str) -> list[str]:
        vm = item(
            "Msvm_ComputerSystem",
            {"Caption": "Virtual Machine", "ElementName": "web", "Name": GUID, "EnabledState": "3"},
        )
        if wql.startswith("SELECT * FROM Msvm_ComputerSystem"):
            return [vm] if self.defined and not self.destroyed else []
        if wql == f"SELECT * FROM {SERVICE}":
            return [item(SERVICE, SERVICE_KEYS)]
        if wql == "SELECT * FROM Msvm_VirtualEthernetSwitch":
            return [
                item("Msvm_VirtualEthernetSwitch", {"ElementName": name, "Name": guid})
                for name, guid in SWITCHES.items()
            ]
        if wql.startswith("SELECT * FROM Msvm_VirtualSystemSettingData"):
            subtype = f"Microsoft:Hyper-V:SubType:{self.generation}"
            return [
                item(
                    "Msvm_VirtualSystemSettingData",
                    {"InstanceID": VSSD_ID, "VirtualSystemSubType": subtype},
                )
            ]
        if wql.startswith("SELECT * FROM Msvm_ConcreteJob"):
            job = {"InstanceID": "JOB-7", "JobState": "10", "ErrorCode": "32779"}
            return [item("Msvm_ConcreteJob", {**job, "ErrorDescription": self.failed_job})]
        found = re.fullmatch(
            r'ASSOCIATORS OF \{Msvm_VirtualSystemSettingData.InstanceID="(.*)"\} WHERE '
            r"AssocClass = Msvm_VirtualSystemSettingDataComponent ResultClass = (\w+)",
            wql,
        )
        assert found is not None, f"unexpected query {wql}"
        assert found.group(1) == escaped(VSSD_ID)
        return [item(c, props) for c, props in self.settings if c == found.group(2)]


def driver_with(host: HandWrittenHost) -> HyperVDriver:
    driver = object.__new__(HyperVDriver)  # no host: only the WinRM transport is replaced
    driver.client = host
    return driver


GENERATION_1 = f"""<domain type='hyperv'><name>web</name><uuid>{GUID.lower()}</uuid>
  <memory unit='MiB'>1024</memory><vcpu>2</vcpu>
  <devices>
    <disk type='file' device='disk'><source file='D:\\VMs\\boot.vhdx'/>
      <target dev='hda' bus='ide'/></disk>
    <disk type='file' device='cdrom'><source file='D:\\iso\\setup.iso'/>
      <target dev='hdc' bus='ide'/><readonly/></disk>
    <disk type='file' device='disk'><source file='D:\\VMs\\data.vhdx'/>
      <target dev='sdb' bus='scsi'/></disk>
    <interface type='bridge'><mac address='00:15:5d:01:02:03'/>
      <source bridge='External'/></interface>
    <interface type='bridge'><mac address='00:15:5d:01:02:04'/>
      <source bridge='Internal'/><model type='legacy'/></interface>
  </devices></domain>"""


def u16(value: int) -> tuple[str, str]:
    return ("uint16", str(value))


def s(value: str) -> tuple[str, str]:
    return ("string", value)


def check_envelope(body: etree._Element) -> tuple[str, Embedded]:
    """An ``AddResourceSettings`` invocation, element by element; returns its instance."""
    doc = body.getparent().getparent()
    header = doc.find("s:Header", NS)
    assert header.findtext("a:Action", namespaces=NS) == f"{SERVICE_URI}/AddResourceSettings"
    assert header.findtext("w:ResourceURI", namespaces=NS) == SERVICE_URI
    selectors = {s.get("Name"): s.text for s in header.iterfind("w:SelectorSet/w:Selector", NS)}
    assert selectors == SERVICE_KEYS
    assert [etree.QName(c).localname for c in body] == [
        "AffectedConfiguration",
        "ResourceSettings",
    ]
    affected = body[0]
    assert affected.findtext("a:Address", namespaces=NS) == f"{A}/role/anonymous"
    assert affected.findtext("a:ReferenceParameters/w:ResourceURI", namespaces=NS) == (
        f"{V2}/Msvm_VirtualSystemSettingData"
    )
    keys = {
        s.get("Name"): s.text
        for s in affected.iterfind("a:ReferenceParameters/w:SelectorSet/w:Selector", NS)
    }
    assert keys == {"__cimnamespace": "root/virtualization/v2", "InstanceID": VSSD_ID}
    return embedded(str(body[1].text))


def test_generation_1_definition_becomes_these_settings_and_reads_back() -> None:
    host = HandWrittenHost(generation=1)
    driver = driver_with(host)
    record = driver.virtkit_domain_define(parse_domain(GENERATION_1))
    assert record.name == "web"
    assert (
        host.methods() == ["DefineSystem", "ModifyResourceSettings"] + ["AddResourceSettings"] * 11
    )

    added = [check_envelope(body) for body in host.calls("AddResourceSettings")]
    made = host.made
    ide = [rasd_path(f"{VSSD_ID}\\{IDE_DEVICE}\\{n}") for n in (0, 1)]
    identifiers = []
    for _, props in added:
        if "VirtualSystemIdentifiers" in props:
            kind, values = props.pop("VirtualSystemIdentifiers")
            assert kind == "string" and isinstance(values, list) and len(values) == 1
            assert re.fullmatch(r"\{[0-9A-F-]{36}\}", values[0])
            identifiers.append(values[0])
    assert len(set(identifiers)) == 2
    assert added == [
        (
            "Msvm_ResourceAllocationSettingData",
            {
                "ResourceType": u16(6),
                "ResourceSubType": s("Microsoft:Hyper-V:Synthetic SCSI Controller"),
            },
        ),
        (
            "Msvm_ResourceAllocationSettingData",
            {
                "ResourceType": u16(17),
                "ResourceSubType": s("Microsoft:Hyper-V:Synthetic Disk Drive"),
                "Parent": s(ide[0]),
                "AddressOnParent": s("0"),
            },
        ),
        (
            "Msvm_StorageAllocationSettingData",
            {
                "ResourceType": u16(31),
                "ResourceSubType": s("Microsoft:Hyper-V:Virtual Hard Disk"),
                "Parent": s(made[1]),
                "HostResource": ("string", ["D:\\VMs\\boot.vhdx"]),
            },
        ),
        (
            "Msvm_ResourceAllocationSettingData",
            {
                "ResourceType": u16(16),
                "ResourceSubType": s("Microsoft:Hyper-V:Synthetic DVD Drive"),
                "Parent": s(ide[1]),
                "AddressOnParent": s("0"),
            },
        ),
        (
            "Msvm_StorageAllocationSettingData",
            {
                "ResourceType": u16(31),
                "ResourceSubType": s("Microsoft:Hyper-V:Virtual CD/DVD Disk"),
                "Parent": s(made[3]),
                "HostResource": ("string", ["D:\\iso\\setup.iso"]),
            },
        ),
        (
            "Msvm_ResourceAllocationSettingData",
            {
                "ResourceType": u16(17),
                "ResourceSubType": s("Microsoft:Hyper-V:Synthetic Disk Drive"),
                "Parent": s(made[0]),
                "AddressOnParent": s("1"),
            },
        ),
        (
            "Msvm_StorageAllocationSettingData",
            {
                "ResourceType": u16(31),
                "ResourceSubType": s("Microsoft:Hyper-V:Virtual Hard Disk"),
                "Parent": s(made[5]),
                "HostResource": ("string", ["D:\\VMs\\data.vhdx"]),
            },
        ),
        (
            "Msvm_SyntheticEthernetPortSettingData",
            {
                "ResourceType": u16(10),
                "ResourceSubType": s("Microsoft:Hyper-V:Synthetic Ethernet Port"),
                "ElementName": s("Network Adapter"),
                "StaticMacAddress": ("boolean", "TRUE"),
                "Address": s("00155D010203"),
            },
        ),
        (
            "Msvm_EthernetPortAllocationSettingData",
            {
                "ResourceType": u16(33),
                "ResourceSubType": s("Microsoft:Hyper-V:Ethernet Connection"),
                "Parent": s(made[7]),
                "HostResource": ("string", [switch_path("External")]),
                "EnabledState": u16(2),
            },
        ),
        (
            "Msvm_EmulatedEthernetPortSettingData",
            {
                "ResourceType": u16(10),
                "ResourceSubType": s("Microsoft:Hyper-V:Emulated Ethernet Port"),
                "ElementName": s("Legacy Network Adapter"),
                "StaticMacAddress": ("boolean", "TRUE"),
                "Address": s("00155D010204"),
            },
        ),
        (
            "Msvm_EthernetPortAllocationSettingData",
            {
                "ResourceType": u16(33),
                "ResourceSubType": s("Microsoft:Hyper-V:Ethernet Connection"),
                "Parent": s(made[9]),
                "HostResource": ("string", [switch_path("Internal")]),
                "EnabledState": u16(2),
            },
        ),
    ]

    dump = driver.virtkit_domain_get_xml(
        DomainRef(name="web", uuid=uuidlib.UUID(GUID)), DomainXMLFlags.INACTIVE
    )
    assert devices_of(dump) == devices_of(GENERATION_1)
    # the dump defines the same devices again
    again = mapping.settings_for(parse_domain(dump)).devices
    assert again == mapping.settings_for(parse_domain(GENERATION_1)).devices


def devices_of(xml: str) -> list[tuple[str | None, ...]]:
    """What matters of each disk and interface."""
    root = etree.fromstring(xml.encode())
    found: list[tuple[str | None, ...]] = []
    for disk in root.iterfind("devices/disk"):
        source, target = disk.find("source"), disk.find("target")
        file = source.get("file") if source is not None else None
        found.append((disk.get("device"), file, target.get("dev"), target.get("bus")))
    for nic in root.iterfind("devices/interface"):
        mac, source, model = nic.find("mac"), nic.find("source"), nic.find("model")
        found.append(
            (
                nic.get("type"),
                mac.get("address") if mac is not None else None,
                source.get("bridge") if source is not None else None,
                model.get("type") if model is not None else None,
            )
        )
    return sorted(found, key=lambda t: (len(t), str(t)))


GENERATION_2 = f"""<domain type='hyperv'><name>web</name><uuid>{GUID.lower()}</uuid>
  <memory unit='MiB'>1024</memory><os firmware='efi'><type>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><source file='D:\\VMs\\boot.vhdx'/>
      <target dev='sda' bus='scsi'/></disk>
    <disk type='file' device='disk'><source file='D:\\VMs\\logs.vhdx'/>
      <target dev='sdbm' bus='scsi'/></disk>
    <disk type='file' device='cdrom'><target dev='sdc' bus='scsi'/></disk>
    <interface type='bridge'><source bridge='External'/></interface>
  </devices></domain>"""


def test_generation_2_gets_its_scsi_controllers_and_reads_back() -> None:
    host = HandWrittenHost(generation=2)
    driver = driver_with(host)
    driver.virtkit_domain_define(parse_domain(GENERATION_2))
    added = [check_envelope(body) for body in host.calls("AddResourceSettings")]
    made = host.made
    summary = [
        (cls, props["ResourceType"][1], props.get("Parent", ("", ""))[1]) for cls, props in added
    ]
    assert summary == [
        ("Msvm_ResourceAllocationSettingData", "6", ""),  # SCSI controller 0
        ("Msvm_ResourceAllocationSettingData", "6", ""),  # SCSI controller 1, for sdbm
        ("Msvm_ResourceAllocationSettingData", "17", made[0]),  # sda
        ("Msvm_StorageAllocationSettingData", "31", made[2]),
        ("Msvm_ResourceAllocationSettingData", "17", made[1]),  # sdbm: controller 1
        ("Msvm_StorageAllocationSettingData", "31", made[4]),
        ("Msvm_ResourceAllocationSettingData", "16", made[0]),  # sdc: an empty DVD drive
        ("Msvm_SyntheticEthernetPortSettingData", "10", ""),
        ("Msvm_EthernetPortAllocationSettingData", "33", made[7]),
    ]
    assert [props["AddressOnParent"][1] for _, props in added if "AddressOnParent" in props] == [
        "0",
        "0",
        "2",
    ]
    assert added[7][1]["StaticMacAddress"] == ("boolean", "FALSE")
    assert "Address" not in added[7][1]

    dump = driver.virtkit_domain_get_xml(
        DomainRef(name="web", uuid=uuidlib.UUID(GUID)), DomainXMLFlags.INACTIVE
    )
    root = etree.fromstring(dump.encode())
    assert [
        (d.get("device"), d.find("target").get("dev"), d.find("address").get("controller"))
        for d in root.iterfind("devices/disk")
    ] == [("disk", "sda", "0"), ("cdrom", "sdc", "0"), ("disk", "sdbm", "1")]
    assert root.find("devices/interface/source").get("bridge") == "External"
    again = mapping.settings_for(parse_domain(dump)).devices
    assert set(again.disks) == set(mapping.settings_for(parse_domain(GENERATION_2)).devices.disks)


def test_a_missing_switch_is_named_before_anything_is_created() -> None:
    host = HandWrittenHost()
    xml = GENERATION_1.replace("bridge='Internal'", "bridge='Lab'")
    with pytest.raises(InvalidArgumentError) as caught:
        driver_with(host).virtkit_domain_define(parse_domain(xml))
    assert caught.value.message == (
        "the Hyper-V host has no virtual switch named 'Lab' (<source bridge>); its switches: "
        "External, Internal"
    )
    assert host.methods() == []


def test_what_cannot_be_honoured_is_refused_before_any_request() -> None:
    host = HandWrittenHost()
    xml = GENERATION_1.replace("<readonly/>", "<readonly/><boot order='1'/>")
    with pytest.raises(ConfigUnsupportedError, match="'hdc': <boot> cannot be honoured"):
        driver_with(host).virtkit_domain_define(parse_domain(xml))
    assert host.sent == []


NOT_FOUND = (
    "'web' failed to add device 'Virtual Hard Disk'. (Virtual machine ID "
    f"{GUID}) The system cannot find the file specified. (0x80070002)"
)


def fail_data_disk(cim_class: str, props: Embedded) -> str | None:
    wanted = cim_class == "Msvm_StorageAllocationSettingData"
    return NOT_FOUND if wanted and props["HostResource"][1] == ["D:\\VMs\\data.vhdx"] else None


def test_a_device_that_fails_removes_the_half_defined_vm() -> None:
    host = HandWrittenHost()
    host.fail = fail_data_disk
    with pytest.raises(OperationFailedError) as caught:
        driver_with(host).virtkit_domain_define(parse_domain(GENERATION_1))
    assert caught.value.message == (
        "defining 'web' failed, and the half-defined VM was removed: adding disk 'sdb' "
        "(D:\\VMs\\data.vhdx) failed: Hyper-V AddResourceSettings job ended 10 (Exception, "
        f"error code 32779): {NOT_FOUND}"
    )
    assert host.methods()[-2:] == ["AddResourceSettings", "DestroySystem"]
    destroyed = host.calls("DestroySystem")[0]
    keys = {
        s.get("Name"): s.text
        for s in destroyed.iterfind(".//a:ReferenceParameters/w:SelectorSet/w:Selector", NS)
    }
    assert keys["Name"] == GUID and host.destroyed


def test_a_vm_that_cannot_be_removed_is_reported_with_both_errors() -> None:
    host = HandWrittenHost()
    host.fail = fail_data_disk
    host.destroy_code = 32768
    with pytest.raises(OperationFailedError) as caught:
        driver_with(host).virtkit_domain_define(parse_domain(GENERATION_1))
    assert caught.value.message == (
        "defining 'web' failed (adding disk 'sdb' (D:\\VMs\\data.vhdx) failed: Hyper-V "
        "AddResourceSettings job ended 10 (Exception, error code 32779): "
        f"{NOT_FOUND}) and the half-defined VM {GUID} could not be removed: Hyper-V "
        "DestroySystem failed: 32768 (Failed)"
    )
