"""The faithful model: round trip, typed values, unknown XML kept, errors that name the place."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from lxml import etree
from virtkit.errors import XMLError
from virtkit.testing.conformance import same_tree
from virtkit.xml import DomainDef, DomainType, parse_domain
from virtkit.xml.devices.disk import DiskType
from virtkit.xml.node import Unknown

DATA = Path(__file__).parent / "data"
FAITHFUL = (DATA / "faithful.xml").read_text()

MINIMAL = "<domain type='test'><name>m</name></domain>"


def test_round_trip_is_faithful_and_in_libvirt_layout() -> None:
    assert parse_domain(FAITHFUL).to_xml() == FAITHFUL


def test_round_trip_keeps_unknown_attributes_children_and_order() -> None:
    out = parse_domain(FAITHFUL).to_xml()
    assert same_tree(FAITHFUL, out) is None
    assert "futureattr='x'" in out and "<futuredevice kind='new'>" in out
    # input order of the disk children, not libvirt's (driver, source, target)
    assert out.index("<target dev='hda'") < out.index("<source file=") < out.index("<driver")


def test_whitespace_only_formatting_is_normalised() -> None:
    squashed = re.sub(r">\s+<", "><", FAITHFUL).strip()
    assert "\n" not in squashed
    assert same_tree(FAITHFUL, parse_domain(squashed).to_xml()) is None


def test_whitespace_that_is_content_survives_the_parser_dropping_indentation() -> None:
    text = (
        "<domain type='kvm'><name>n</name><description>   </description><metadata>"
        "<app:note xmlns:app='urn:x'>a <b>bold</b> <i>c</i> </app:note></metadata></domain>"
    )
    d = parse_domain(text)
    assert d.description == "   "  # an element holding only whitespace keeps it
    # mixed content keeps the spaces between its words and elements
    assert '<app:note xmlns:app="urn:x">a <b>bold</b> <i>c</i> </app:note>' in d.to_xml()


def test_typed_values() -> None:
    d = parse_domain(FAITHFUL)
    assert d.type is DomainType.KVM
    assert d.name == "faithful"
    assert d.uuid == uuid.UUID("4dea22b3-1d52-d8f3-2516-782e98ab3fa0")
    assert d.title == "A title"
    assert d.description == "Keep   my spacing & <escapes>"
    assert d.memory_kib == 512 * 1024
    assert d.current_memory_kib == 0
    assert d.vcpus == 2
    assert d.os is not None and d.os.type is not None and d.os.type.text == "hvm"
    assert d.devices is not None
    (disk,) = d.devices.disks
    assert disk.type is DiskType.FILE and disk.source is not None
    assert disk.source.path == "/var/lib/images/a.qcow2"
    assert disk.target is not None and disk.target.dev == "hda"
    assert d.devices.interfaces[0].mac == "52:54:00:11:22:33"
    assert d.devices.interfaces[0].model == "virtio"


def test_absent_is_not_default() -> None:
    d = parse_domain(MINIMAL)
    assert d.uuid is None and d.memory_kib is None and d.vcpus is None and d.os is None
    assert d.to_xml() == "<domain type='test'>\n  <name>m</name>\n</domain>\n"


def test_definitions_are_frozen_and_hashable() -> None:
    a, b = parse_domain(FAITHFUL), parse_domain(FAITHFUL)
    assert a == b and hash(a) == hash(b)
    with pytest.raises(AttributeError):
        a.type = DomainType.QEMU  # type: ignore[misc]


def test_unknown_elements_are_kept_as_bytes() -> None:
    devices = parse_domain(FAITHFUL).devices
    assert devices is not None
    unknown = [c for c in devices.children if isinstance(c, Unknown)]
    assert [u.tag for u in unknown] == ["futuredevice"]
    assert isinstance(unknown[0].xml, bytes)


def test_with_identity_sets_name_and_adds_uuid_after_name() -> None:
    new = uuid.UUID("11111111-2222-3333-4444-555555555555")
    d = parse_domain(MINIMAL).with_identity(name="renamed", uuid=new)
    assert (d.name, d.uuid) == ("renamed", new)
    assert d.to_xml().index("<name>") < d.to_xml().index("<uuid>")
    replaced = parse_domain(FAITHFUL).with_identity(uuid=new)
    assert replaced.uuid == new and replaced.to_xml().count("<uuid>") == 1


def test_tree_is_a_fresh_copy() -> None:
    d = parse_domain(FAITHFUL)
    tree = d.tree()
    tree.find("name").text = "changed"  # type: ignore[union-attr]
    assert d.name == "faithful" and d.tree() is not tree


def _error(text: str) -> str:
    with pytest.raises(XMLError) as info:
        parse_domain(text)
    return str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "<domain type='kvm'>\n<name>x</name>\n<uuid>nope</uuid></domain>",
            "/domain/uuid (line 3)",
        ),
        (
            "<domain type='warp'><name>x</name></domain>",
            "unknown value 'warp' for attribute 'type'",
        ),
        (
            "<domain type='kvm'><name>x</name>\n<devices>\n"
            "<disk type='floppy-ish'/></devices></domain>",
            "/domain/devices/disk (line 3): unknown value 'floppy-ish'",
        ),
        ("<domain type='kvm'><name>x</name>\n<memory unit='parsecs'>1</memory></domain>", "line 2"),
        (
            "<domain type='kvm'><name>x</name>\n<memory>lots</memory></domain>",
            "/domain/memory (line 2): invalid value 'lots' for the element's text",
        ),
        ("<domain type='kvm'><name>x</name><vcpu current='5'>4</vcpu></domain>", "current vCPUs 5"),
        ("<domain><name>x</name></domain>", "missing attribute 'type'"),
        ("<domain type='kvm'></domain>", "missing <name>"),
        ("<domain type='kvm'>\n<name>x</name>\n<oops></domain>", "line 3"),
        ("<network><name>x</name></network>", "expected root element <domain>"),
    ],
)
def test_errors_name_the_element_and_line(text: str, expected: str) -> None:
    assert expected in _error(text)


def test_entities_and_doctype_are_refused() -> None:
    secret = DATA / "faithful.xml"
    xxe = (
        f'<!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>'
        "<domain type='kvm'><name>&x;</name></domain>"
    )
    assert "DOCTYPE" in _error(xxe)
    laughs = (
        '<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        "<domain type='kvm'><name>&b;</name></domain>"
    )
    assert "DOCTYPE" in _error(laughs)


def test_semantic_checks_reject_what_libvirt_rejects() -> None:
    chardev = (
        "<domain type='kvm'><name>x</name><devices>\n<channel type='tcp'>\n"
        "<source mode='connect' service='1'/></channel></devices></domain>"
    )
    assert "/domain/devices/channel/source (line 3): missing source host" in _error(chardev)


def test_element_classes_round_trip_alone() -> None:
    d = parse_domain(FAITHFUL)
    assert d.devices is not None
    disk = d.devices.disks[0]
    el = disk.to_element()
    assert type(disk).from_xml(el) == disk
    assert etree.tostring(el).startswith(b'<disk type="file" device="disk">')


def test_domaindef_is_the_public_class() -> None:
    assert isinstance(parse_domain(MINIMAL), DomainDef)


def test_cpu_sets_must_name_something() -> None:
    text = (
        "<domain type='kvm'><name>x</name>\n<numatune>\n"
        "<memory mode='strict' nodeset='0,^0'/></numatune></domain>"
    )
    assert "/domain/numatune/memory (line 3): invalid value of 'nodeset'" in _error(text)


def test_schemas_are_where_libvirt_installs_them_unless_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from virtkit.errors import NoSupportError
    from virtkit.xml import validate
    from virtkit.xml.validate import SCHEMA_DIR_VAR, SYSTEM_SCHEMAS, schema_folder

    monkeypatch.delenv(SCHEMA_DIR_VAR)
    assert schema_folder() == SYSTEM_SCHEMAS == Path("/usr/share/libvirt/schemas")
    monkeypatch.setenv(SCHEMA_DIR_VAR, str(tmp_path))
    assert schema_folder() == tmp_path
    with pytest.raises(NoSupportError, match=f"{tmp_path}/domain.rng is missing.*libvirt0"):
        validate("<domain type='kvm'><name>x</name></domain>")


def test_validate_names_the_line() -> None:
    from virtkit.xml import validate

    validate(FAITHFUL.replace("<futureboot wish='yes'/>", "").split("<devices>")[0] + "</domain>")
    with pytest.raises(XMLError, match=r"line \d+: does not validate against domain.rng"):
        validate(FAITHFUL)
