"""VM generation ID (``<genid>``): drawn at define when asked for, given to QEMU's vmgenid
device, and drawn anew when the guest resumes from a copy of itself (a restore, a snapshot
revert) while its definition keeps its own, as libvirt does."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import virtkit
from lxml import etree
from virtkit.constants import DomainXMLFlags
from virtkit.errors import ConfigUnsupportedError, XMLError
from virtkit_qemu.qmp import Monitor


def genid_of(xml: str) -> str | None:
    return etree.fromstring(xml.encode()).findtext("genid")


def qemu_genid(qemu_root: Path, name: str) -> str:
    """What the running QEMU's vmgenid device tells the guest."""
    (sock,) = qemu_root.rglob("qmp.sock")
    with Monitor(sock, name=name) as mon:
        return str(uuid.UUID(mon.execute("query-vm-generation-id")["guid"]))


def test_genid_is_drawn_at_define_and_drawn_anew_on_restore_and_revert(
    conn: virtkit.Connection,
    firmware_xml: Callable[..., str],
    qcow2_disk: Callable[..., str],
    qemu_root: Path,
    tmp_path: Path,
) -> None:
    xml = firmware_xml("gen", devices=qcow2_disk()).replace("<memory", "<genid/><memory", 1)
    dom = conn.define_xml(xml)
    defined = genid_of(dom.xml_desc(DomainXMLFlags.INACTIVE))
    assert defined is not None and str(uuid.UUID(defined)) == defined
    dom.create()
    assert genid_of(dom.xml_desc()) == defined
    assert qemu_genid(qemu_root, "gen") == defined

    snapshot = dom.snapshot_create_xml("<domainsnapshot><name>s1</name></domainsnapshot>")
    dom.save(str(tmp_path / "gen.save"))
    conn.restore(str(tmp_path / "gen.save"))
    restored = genid_of(dom.xml_desc())
    assert restored not in (None, defined)
    assert qemu_genid(qemu_root, "gen") == restored
    assert genid_of(dom.xml_desc(DomainXMLFlags.INACTIVE)) == defined  # the definition's own

    dom.destroy()
    dom.revert_to_snapshot(snapshot)  # a new QEMU loads the snapshot
    reverted = genid_of(dom.xml_desc())
    assert reverted not in (None, defined, restored)
    assert qemu_genid(qemu_root, "gen") == reverted
    assert genid_of(dom.xml_desc(DomainXMLFlags.INACTIVE)) == defined
    dom.destroy()
    dom.create()  # a plain start runs the definition's own
    assert qemu_genid(qemu_root, "gen") == defined
    dom.destroy()


def test_a_given_genid_is_kept_in_canonical_form_and_a_malformed_one_refused(
    conn: virtkit.Connection, firmware_xml: Callable[..., str]
) -> None:
    given = "2B3A1E38-5E1C-4E3F-9B0D-21C1D4A3F5E7"
    dom = conn.define_xml(firmware_xml("kept").replace("<memory", f"<genid>{given}</genid><memory"))
    assert genid_of(dom.xml_desc()) == given.lower()
    with pytest.raises(XMLError, match="genid"):
        conn.define_xml(firmware_xml("bad").replace("<memory", "<genid>not-a-uuid</genid><memory"))
    assert [d.name() for d in conn.list_all_domains()] == ["kept"]


def test_an_empty_genid_left_to_the_command_line_is_refused(
    conn: virtkit.Connection, firmware_xml: Callable[..., str]
) -> None:
    """The command line takes its value from the canonical XML: XML that reaches it with an
    empty one (from a start hook, say) gets an error naming the element, not a QEMU failure."""
    from virtkit.xml import parse_domain
    from virtkit_qemu.argv import build_command

    with pytest.raises(ConfigUnsupportedError, match="genid"):
        build_command(parse_domain(firmware_xml("e").replace("<memory", "<genid/><memory")))
