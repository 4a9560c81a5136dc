"""Snapshot tree walks (shared by every driver) and the test driver's snapshot rules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import virtkit
from virtkit.connection import Connection
from virtkit.constants import DomainPausedReason, DomainShutoffReason, DomainState
from virtkit.constants import DomainSnapshotListFlags as Flags
from virtkit.domain import Domain
from virtkit.errors import (
    ErrorCode,
    InvalidArgumentError,
    NoSnapshotError,
    OperationFailedError,
    OperationInvalidError,
    VirtError,
    XMLError,
)
from virtkit.records import SnapshotRecord
from virtkit.snapshot import descendants, select_snapshots, topological
from virtkit.xml import parse_snapshot

# --------------------------------------------------------------------------- tree walks
#
#   a (shutoff, t=1) ── b (running, t=2) ── d (disk-snapshot, t=4)
#                    └─ c (paused, t=3, current, no metadata)
#   e (running, t=0, external)

RECORDS = [
    SnapshotRecord(name="d", parent="b", creation_time=4, state="disk-snapshot"),
    SnapshotRecord(
        name="c", parent="a", creation_time=3, state="paused", is_current=True, has_metadata=False
    ),
    SnapshotRecord(name="a", parent=None, creation_time=1, state="shutoff"),
    SnapshotRecord(name="e", parent=None, creation_time=0, state="running", location="external"),
    SnapshotRecord(name="b", parent="a", creation_time=2, state="running"),
]


def names(records: list[SnapshotRecord]) -> list[str]:
    return [r.name for r in records]


def test_topological_order_puts_parents_first() -> None:
    assert names(topological(RECORDS)) == ["e", "a", "b", "d", "c"]


def test_descendants() -> None:
    assert names(descendants(RECORDS, "a")) == ["b", "d", "c"]
    assert names(descendants(RECORDS, "d")) == []


@pytest.mark.parametrize(
    ("parent", "flags", "expected"),
    [
        (None, 0, ["e", "a", "b", "d", "c"]),
        (None, Flags.ROOTS, ["e", "a"]),
        (None, Flags.LEAVES, ["e", "d", "c"]),
        (None, Flags.NO_LEAVES, ["a", "b"]),
        (None, Flags.ROOTS | Flags.LEAVES, ["e"]),
        (None, Flags.INACTIVE, ["a"]),
        (None, Flags.ACTIVE, ["e", "b", "c"]),
        (None, Flags.DISK_ONLY, ["d"]),
        (None, Flags.INACTIVE | Flags.DISK_ONLY, ["a", "d"]),
        (None, Flags.NO_METADATA, ["c"]),
        (None, Flags.METADATA, ["e", "a", "b", "d"]),
        (None, Flags.EXTERNAL, ["e"]),
        (None, Flags.INTERNAL, ["a", "b", "d", "c"]),
        ("a", 0, ["b", "c"]),
        ("a", Flags.DESCENDANTS, ["b", "d", "c"]),
        ("a", Flags.DESCENDANTS | Flags.LEAVES, ["d", "c"]),
        ("b", 0, ["d"]),
        ("d", 0, []),
    ],
)
def test_select_snapshots_applies_libvirts_filters(
    parent: str | None, flags: int, expected: list[str]
) -> None:
    assert names(select_snapshots(RECORDS, parent=parent, flags=flags)) == expected


# --------------------------------------------------------------------------- the test driver

XML = (
    "<domain type='test'><name>{name}</name><memory>65536</memory>"
    "<os><type>hvm</type></os>{extra}</domain>"
)


def snapshot_xml(name: str, extra: str = "") -> str:
    return f"<domainsnapshot><name>{name}</name>{extra}</domainsnapshot>"


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[Connection]:
    path = tmp_path / "node.xml"
    path.write_text("<node/>")
    with virtkit.open(f"test://{path}") as connection:
        yield connection


@pytest.fixture
def dom(conn: Connection) -> Domain:
    return conn.define_xml(XML.format(name="snappy", extra=""))


def test_tree_walks_through_the_api(dom: Domain) -> None:
    root = dom.snapshot_create_xml(snapshot_xml("root"))
    left = dom.snapshot_create_xml(snapshot_xml("left"))
    dom.revert_to_snapshot(root)
    right = dom.snapshot_create_xml(snapshot_xml("right"))
    deep = dom.snapshot_create_xml(snapshot_xml("deep"))
    assert root.list_all_children() == [left, right]
    assert root.list_all_children(Flags.DESCENDANTS) == [left, right, deep]
    assert root.num_children(Flags.DESCENDANTS | Flags.LEAVES) == 2
    assert dom.list_all_snapshots(Flags.LEAVES) == [left, deep]
    assert dom.snapshot_num() == 4
    assert dom.snapshot_current() == deep and deep.get_parent() == right


def test_snapshot_of_a_running_domain_records_its_state(dom: Domain) -> None:
    dom.create()
    dom.suspend()
    snap = dom.snapshot_create_xml(
        snapshot_xml("paused", "<description>while paused</description>")
    )
    parsed = parse_snapshot(snap.get_xml_desc())
    assert (parsed.state, parsed.description, parsed.memory) == (
        "paused",
        "while paused",
        "internal",
    )
    assert parsed.domain is not None and parsed.domain.name == "snappy"
    disk_only = dom.snapshot_create_xml(snapshot_xml("disks"), disk_only=True)
    assert parse_snapshot(disk_only.get_xml_desc()).state == "disk-snapshot"


def test_unnamed_snapshots_are_named_after_their_creation_time(dom: Domain) -> None:
    snap = dom.snapshot_create_xml("<domainsnapshot/>")
    assert snap.get_name() == str(parse_snapshot(snap.get_xml_desc()).creation_time)
    with pytest.raises(OperationFailedError, match="already exists"):
        dom.snapshot_create_xml(snapshot_xml(snap.get_name()))


def test_halt_stops_the_domain_after_the_snapshot(dom: Domain) -> None:
    dom.create()
    snap = dom.snapshot_create_xml(snapshot_xml("halted"), halt=True)
    assert dom.state() == (DomainState.SHUTOFF, DomainShutoffReason.FROM_SNAPSHOT)
    assert parse_snapshot(snap.get_xml_desc()).state == "running"


def test_no_metadata_takes_the_snapshot_without_keeping_it(dom: Domain) -> None:
    snap = dom.snapshot_create_xml(snapshot_xml("ghost"), no_metadata=True)
    assert snap.get_name() == "ghost"
    assert dom.list_all_snapshots() == [] and not dom.has_current_snapshot()


def test_transient_domains_cannot_halt_or_go_back_to_shutoff(conn: Connection) -> None:
    dom = conn.create_xml(XML.format(name="passing", extra=""))
    with pytest.raises(OperationInvalidError, match="transient domain needs to remain running"):
        dom.snapshot_create_xml(snapshot_xml("x"), halt=True)
    offline = dom.snapshot_create_xml(
        snapshot_xml("offline", "<state>shutoff</state>"), redefine=True
    )
    with pytest.raises(OperationInvalidError, match="needs to have a running snapshot"):
        dom.revert_to_snapshot(offline)
    with pytest.raises(VirtError, match="lacks domain 'passing' rollback info") as info:
        dom.revert_to_snapshot(offline, running=True)
    assert info.value.code == ErrorCode.SNAPSHOT_REVERT_RISKY
    dom.revert_to_snapshot(offline, running=True, force=True)
    assert dom.state()[0] == DomainState.RUNNING and offline.is_current()


def test_redefine_imports_metadata(dom: Domain) -> None:
    base = dom.snapshot_create_xml(snapshot_xml("base"))
    text = base.get_xml_desc()
    base.delete(metadata_only=True)
    assert dom.list_all_snapshots() == []
    again = dom.snapshot_create_xml(text, redefine=True)
    assert again.get_xml_desc() == text and not again.is_current()
    child = snapshot_xml(
        "child",
        "<state>running</state><parent><name>base</name></parent>"
        "<creationTime>1700000000</creationTime>",
    )
    made = dom.snapshot_create_xml(child, redefine=True, current=True)
    assert made.is_current() and made.get_parent() == again
    assert parse_snapshot(made.get_xml_desc()).creation_time == 1700000000


@pytest.mark.parametrize(
    ("xml", "error", "complaint"),
    [
        ("<domainsnapshot><state>running</state></domainsnapshot>", XMLError, "must have a <name>"),
        ("<domainsnapshot><name>n</name></domainsnapshot>", XMLError, "must have a <state>"),
        (
            "<domainsnapshot><name>n</name><state>running</state><parent><name>nope</name></parent>"
            "</domainsnapshot>",
            InvalidArgumentError,
            "parent 'nope' for snapshot 'n' not found",
        ),
        (
            "<domainsnapshot><name>n</name><state>running</state>"
            "<domain type='test'><name>snappy</name>"
            "<uuid>00000000-0000-0000-0000-000000000001</uuid></domain></domainsnapshot>",
            InvalidArgumentError,
            "must use uuid",
        ),
    ],
)
def test_redefine_refuses_bad_metadata(
    dom: Domain, xml: str, error: type[VirtError], complaint: str
) -> None:
    with pytest.raises(error, match=complaint):
        dom.snapshot_create_xml(xml, redefine=True)
    assert dom.list_all_snapshots() == []


def test_redefine_refuses_a_cycle(dom: Domain) -> None:
    dom.snapshot_create_xml(snapshot_xml("a"))
    dom.snapshot_create_xml(snapshot_xml("b"))
    cycle = snapshot_xml("a", "<state>shutoff</state><parent><name>b</name></parent>")
    with pytest.raises(InvalidArgumentError, match="would create a cycle"):
        dom.snapshot_create_xml(cycle, redefine=True)


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"current": True}, "'current' requires flag 'redefine'"),
        (
            {"redefine": True, "no_metadata": True},
            "'redefine' and 'no_metadata' are mutually exclusive",
        ),
        ({"halt": True, "live": True}, "'halt' and 'live' are mutually exclusive"),
        ({"redefine": True, "halt": True}, "'redefine' and 'halt' are mutually exclusive"),
    ],
)
def test_creation_flag_rules(dom: Domain, options: dict[str, bool], complaint: str) -> None:
    with pytest.raises(InvalidArgumentError, match=complaint):
        dom.snapshot_create_xml(snapshot_xml("x"), **options)
    with pytest.raises(TypeError, match="unknown option 'sideways'"):
        dom.snapshot_create_xml(snapshot_xml("x"), sideways=True)


def test_revert_to_a_changed_config_needs_force(conn: Connection, dom: Domain) -> None:
    dom.create()
    snap = dom.snapshot_create_xml(snapshot_xml("before"))
    dom.destroy()
    conn.define_xml(
        XML.format(name="snappy", extra="<description>changed</description>").replace(
            "<name>snappy</name>", f"<name>snappy</name><uuid>{dom.uuid()}</uuid>"
        )
    )
    dom.create()
    with pytest.raises(VirtError) as info:
        dom.revert_to_snapshot(snap)
    assert info.value.code == ErrorCode.SNAPSHOT_REVERT_RISKY
    old_id = dom.id()
    assert "changed" in dom.xml_desc() and dom.state()[0] == DomainState.RUNNING
    dom.revert_to_snapshot(snap, force=True)
    assert "changed" not in dom.xml_desc() and "changed" not in dom.xml_desc(inactive=True)
    assert dom.id() != old_id and snap.is_current()


def test_revert_paused_flag_and_snapshot_state(dom: Domain) -> None:
    dom.create()
    dom.suspend()
    paused = dom.snapshot_create_xml(snapshot_xml("paused"))
    dom.resume()
    dom.revert_to_snapshot(paused)
    assert dom.state() == (DomainState.PAUSED, DomainPausedReason.FROM_SNAPSHOT)
    dom.revert_to_snapshot(paused, running=True)
    assert dom.state()[0] == DomainState.RUNNING


def test_snapshot_xml_hides_secrets_unless_asked(conn: Connection) -> None:
    dom = conn.define_xml(
        XML.format(name="secretive", extra="<devices><graphics type='vnc' passwd='pw1'/></devices>")
    )
    snap = dom.snapshot_create_xml(snapshot_xml("s"))
    assert "pw1" not in snap.get_xml_desc()
    assert "passwd='pw1'" in snap.get_xml_desc(1)


def test_missing_snapshots(dom: Domain) -> None:
    snap = dom.snapshot_create_xml(snapshot_xml("gone"))
    snap.delete()
    for call in (
        snap.get_xml_desc,
        snap.is_current,
        snap.get_parent,
        snap.delete,
        lambda: dom.revert_to_snapshot(snap),
    ):
        with pytest.raises(NoSnapshotError):
            call()
