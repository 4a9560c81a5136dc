"""The WS-Management messages the driver builds, checked against the structure DMTF DSP0226
(WS-Management), WS-Enumeration and Microsoft's WMI binding (MS-WSMV) prescribe.

No schema files of these specifications are available offline, so the checks name the
required elements, their namespaces and order, not an XSD. The responses parsed here are
samples written by hand from those documents, not captured from a live Hyper-V host.
"""

from __future__ import annotations

import pytest
from lxml import etree
from virtkit_hyperv import wsman
from virtkit_hyperv.cim import embedded_instance

ENDPOINT = "https://hv.example:5986/wsman"
NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "n": "http://schemas.xmlsoap.org/ws/2004/09/enumeration",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
}
V2 = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/virtualization/v2"
SERVICE = wsman.Reference(
    "Msvm_VirtualSystemManagementService",
    {
        "CreationClassName": "Msvm_VirtualSystemManagementService",
        "Name": "vmms",
        "SystemCreationClassName": "Msvm_ComputerSystem",
        "SystemName": "HV01",
    },
)


def header(doc: etree._Element, path: str) -> str:
    found = doc.find(f"s:Header/{path}", NS)
    assert found is not None, f"header has no {path}"
    return str(found.text)


def test_enumerate_message_is_a_wql_enumeration() -> None:
    doc = etree.fromstring(wsman.enumerate_message(ENDPOINT, "SELECT * FROM Msvm_ComputerSystem"))
    assert doc.tag == f"{{{NS['s']}}}Envelope"
    assert [etree.QName(c).localname for c in doc] == ["Header", "Body"]
    assert header(doc, "a:To") == ENDPOINT
    assert header(doc, "a:Action") == f"{NS['n']}/Enumerate"
    assert header(doc, "w:ResourceURI") == f"{V2}/*"
    assert header(doc, "a:ReplyTo/a:Address").endswith("/role/anonymous")
    assert header(doc, "a:MessageID").startswith("uuid:")
    for must in ("w:ResourceURI", "a:Action", "w:MaxEnvelopeSize"):
        assert doc.find(f"s:Header/{must}", NS).get(f"{{{NS['s']}}}mustUnderstand") == "true"
    enum = doc.find("s:Body/n:Enumerate", NS)
    assert [etree.QName(c).text for c in enum] == [
        f"{{{NS['w']}}}OptimizeEnumeration",
        f"{{{NS['w']}}}MaxElements",
        f"{{{NS['w']}}}Filter",
    ]
    wql = enum.find("w:Filter", NS)
    assert wql.get("Dialect") == "http://schemas.microsoft.com/wbem/wsman/1/WQL"
    assert wql.text == "SELECT * FROM Msvm_ComputerSystem"


def test_pull_message_carries_the_context() -> None:
    doc = etree.fromstring(wsman.pull_message(ENDPOINT, "uuid:ctx-1"))
    assert header(doc, "a:Action") == f"{NS['n']}/Pull"
    assert doc.findtext("s:Body/n:Pull/n:EnumerationContext", namespaces=NS) == "uuid:ctx-1"


def test_invoke_message_addresses_the_instance_and_method() -> None:
    settings = embedded_instance("Msvm_VirtualSystemSettingData", {"ElementName": "web <1>"})
    system = wsman.Reference(
        "Msvm_ComputerSystem", {"CreationClassName": "Msvm_ComputerSystem", "Name": "GUID-1"}
    )
    text = wsman.invoke_message(
        ENDPOINT,
        SERVICE,
        "DefineSystem",
        [
            ("SystemSettings", settings),
            ("ResourceSettings", ["<INSTANCE/>", "<INSTANCE/>"]),
            ("ReferenceConfiguration", None),
            ("AffectedSystem", system),
            ("Force", False),
        ],
    )
    doc = etree.fromstring(text)
    uri = f"{V2}/Msvm_VirtualSystemManagementService"
    assert header(doc, "a:Action") == f"{uri}/DefineSystem"
    assert header(doc, "w:ResourceURI") == uri
    selectors = {
        s.get("Name"): s.text for s in doc.iterfind("s:Header/w:SelectorSet/w:Selector", NS)
    }
    assert selectors == SERVICE.keys
    body = doc.find("s:Body", NS)[0]
    assert body.tag == f"{{{uri}}}DefineSystem_INPUT"
    names = [etree.QName(c).localname for c in body]
    assert names == [
        "SystemSettings",
        "ResourceSettings",
        "ResourceSettings",
        "ReferenceConfiguration",
        "AffectedSystem",
        "Force",
    ]
    # the embedded instance travels as text and comes back intact
    assert body[0].text == settings
    assert body[3].get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true"
    assert body[5].text == "false"
    # an endpoint reference: anonymous address, resource URI, namespace and key selectors
    epr = body[4]
    assert epr.findtext("a:Address", namespaces=NS).endswith("/role/anonymous")
    assert epr.findtext("a:ReferenceParameters/w:ResourceURI", namespaces=NS) == (
        f"{V2}/Msvm_ComputerSystem"
    )
    keys = {
        s.get("Name"): s.text
        for s in epr.iterfind("a:ReferenceParameters/w:SelectorSet/w:Selector", NS)
    }
    assert keys == {
        "__cimnamespace": "root/virtualization/v2",
        "CreationClassName": "Msvm_ComputerSystem",
        "Name": "GUID-1",
    }
    assert wsman.read_reference(epr) == system


def test_embedded_instance_is_cim_xml() -> None:
    text = embedded_instance(
        "Msvm_MemorySettingData",
        {
            "InstanceID": "Microsoft:X",
            "VirtualQuantity": 1024,
            "DynamicMemoryEnabled": False,
            "Notes": ["a", "b"],
        },
    )
    inst = etree.fromstring(text)
    assert inst.tag == "INSTANCE" and inst.get("CLASSNAME") == "Msvm_MemorySettingData"
    props = {p.get("NAME"): (p.tag, p.get("TYPE"), [v.text for v in p.iter("VALUE")]) for p in inst}
    assert props == {
        "InstanceID": ("PROPERTY", "string", ["Microsoft:X"]),
        "VirtualQuantity": ("PROPERTY", "uint64", ["1024"]),
        "DynamicMemoryEnabled": ("PROPERTY", "boolean", ["FALSE"]),
        "Notes": ("PROPERTY.ARRAY", "string", ["a", "b"]),
    }


ENUMERATE_RESPONSE = f"""<s:Envelope xmlns:s="{NS["s"]}" xmlns:a="{NS["a"]}"
    xmlns:n="{NS["n"]}" xmlns:w="{NS["w"]}"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <s:Header><a:Action>{NS["n"]}/EnumerateResponse</a:Action></s:Header>
  <s:Body><n:EnumerateResponse>
    <n:EnumerationContext>uuid:ctx-7</n:EnumerationContext>
    <w:Items>
      <p:Msvm_ComputerSystem xmlns:p="{V2}/Msvm_ComputerSystem">
        <p:Caption>Virtual Machine</p:Caption>
        <p:ElementName>web</p:ElementName>
        <p:EnabledState>2</p:EnabledState>
        <p:Name>6B7A2C1E-0D3F-4E55-9A11-22B3C4D5E6F7</p:Name>
        <p:OperationalStatus>2</p:OperationalStatus>
        <p:OperationalStatus>32768</p:OperationalStatus>
        <p:TimeOfLastStateChange xsi:nil="true"/>
      </p:Msvm_ComputerSystem>
    </w:Items>
  </n:EnumerateResponse></s:Body>
</s:Envelope>""".encode()


def test_enumerate_response_items_and_context() -> None:
    items, context = wsman.read_enumeration(ENUMERATE_RESPONSE)
    assert context == "uuid:ctx-7"
    assert items == [
        {
            "Caption": "Virtual Machine",
            "ElementName": "web",
            "EnabledState": "2",
            "Name": "6B7A2C1E-0D3F-4E55-9A11-22B3C4D5E6F7",
            "OperationalStatus": ["2", "32768"],
            "TimeOfLastStateChange": None,
        }
    ]


def test_end_of_sequence_ends_the_enumeration() -> None:
    done = ENUMERATE_RESPONSE.replace(
        b"<n:EnumerationContext>uuid:ctx-7</n:EnumerationContext>", b"<w:EndOfSequence/>"
    )
    assert wsman.read_enumeration(done)[1] is None


def test_method_output_with_job_reference() -> None:
    uri = f"{V2}/Msvm_VirtualSystemManagementService"
    data = f"""<s:Envelope xmlns:s="{NS["s"]}" xmlns:a="{NS["a"]}" xmlns:w="{NS["w"]}">
      <s:Body><p:DefineSystem_OUTPUT xmlns:p="{uri}">
        <p:Job><a:Address>{NS["a"]}/role/anonymous</a:Address><a:ReferenceParameters>
          <w:ResourceURI>{V2}/Msvm_ConcreteJob</w:ResourceURI>
          <w:SelectorSet><w:Selector Name="InstanceID">JOB-1</w:Selector>
          <w:Selector Name="__cimnamespace">root/virtualization/v2</w:Selector></w:SelectorSet>
        </a:ReferenceParameters></p:Job>
        <p:ReturnValue>4096</p:ReturnValue>
      </p:DefineSystem_OUTPUT></s:Body></s:Envelope>""".encode()
    out = wsman.read_output(data, "DefineSystem")
    assert out["ReturnValue"] == "4096"
    assert out["Job"] == wsman.Reference("Msvm_ConcreteJob", {"InstanceID": "JOB-1"})


def test_unreadable_response_is_an_error() -> None:
    from virtkit.errors import OperationFailedError

    with pytest.raises(OperationFailedError, match="unreadable WS-Management response"):
        wsman.read_enumeration(b"<html>proxy error")
