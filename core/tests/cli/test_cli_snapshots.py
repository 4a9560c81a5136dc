"""Snapshot commands: create, list (table, tree, names, filters), info, current, parent,
revert and delete."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import virtkit
from click.testing import Result
from virtkit.constants import DomainState

Run = Callable[..., Result]
ROW = re.compile(r"^ (\S+)\s+(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4})   (\S+)(?:   (\S*))?$")


@pytest.fixture
def three(run: Run) -> Run:
    """``test`` with snapshots s1 <- s2 <- s3 (s3 current), then s4 taken after reverting to s1."""
    for name in ("s1", "s2", "s3"):
        assert run("snapshot-create-as", "test", name).stdout == f"Domain snapshot {name} created\n"
    run("snapshot-revert", "test", "s1")
    run("snapshot-create-as", "test", "--name", "s4", "--description", "fourth")
    return run


def test_snapshot_create_from_file_and_empty(run: Run, tmp_path: Path) -> None:
    spec = tmp_path / "snap.xml"
    spec.write_text("<domainsnapshot><name>fromfile</name></domainsnapshot>")
    assert run("snapshot-create", "test", str(spec)).stdout == (
        f"Domain snapshot fromfile created from '{spec}'\n"
    )
    result = run("snapshot-create", "test")
    assert re.fullmatch(r"Domain snapshot \S+ created\n", result.stdout)


def test_snapshot_create_as_builds_the_xml(run: Run) -> None:
    result = run(
        "snapshot-create-as",
        "test",
        "snap",
        "a <description>",
        "--print-xml",
        "--memspec",
        "/tmp/mem,snapshot=external",
        "--diskspec",
        "vda,snapshot=external,driver=qcow2,file=/tmp/vda.qcow2",
    )
    assert result.stdout == (
        "<domainsnapshot>\n"
        "  <name>snap</name>\n"
        "  <description>a &lt;description&gt;</description>\n"
        '  <memory snapshot="external" file="/tmp/mem"/>\n'
        "  <disks>\n"
        '    <disk name="vda" snapshot="external">\n'
        '      <driver type="qcow2"/>\n'
        '      <source file="/tmp/vda.qcow2"/>\n'
        "    </disk>\n"
        "  </disks>\n"
        "</domainsnapshot>\n\n"
    )


def test_bad_specs_and_duplicate_names_are_refused(run: Run, conn: virtkit.Connection) -> None:
    result = run("snapshot-create-as", "test", "--diskspec", "vda,colour=red")
    assert result.exit_code == 1
    assert result.stderr == "error: unable to parse diskspec: vda,colour=red\n"
    result = run("snapshot-create-as", "test", "--memspec", "relative")
    assert result.stderr == "error: unable to parse memspec: relative\n"
    result = run("snapshot-create-as", "test", "a", "--name", "b")
    assert result.exit_code == 2
    assert conn.lookup_by_name("test").list_all_snapshots() == []


def test_snapshot_create_halt_stops_the_domain(run: Run, conn: virtkit.Connection) -> None:
    assert run("snapshot-create-as", "test", "h", "--halt").exit_code == 0
    assert conn.lookup_by_name("test").state()[0] == DomainState.SHUTOFF


def test_snapshot_list_table(three: Run) -> None:
    result = three("snapshot-list", "test")
    lines = result.stdout.splitlines()
    assert lines[0] == " Name   Creation Time               State"
    assert lines[1] == "-" * 45
    assert [ROW.match(line).group(1, 3) for line in lines[2:-1]] == [  # type: ignore[union-attr]
        ("s1", "running"),
        ("s2", "running"),
        ("s3", "running"),
        ("s4", "running"),
    ]
    assert lines[-1] == ""


def test_snapshot_list_parent_column(three: Run) -> None:
    lines = three("snapshot-list", "test", "--parent").stdout.splitlines()
    assert lines[0] == " Name   Creation Time               State     Parent"
    parents = [ROW.match(line).group(1, 4) for line in lines[2:-1]]  # type: ignore[union-attr]
    assert parents == [("s1", ""), ("s2", "s1"), ("s3", "s2"), ("s4", "s1")]


def test_snapshot_list_tree_and_names(three: Run) -> None:
    assert three("snapshot-list", "test", "--tree").stdout == (
        "s1\n  |\n  +- s2\n  |   |\n  |   +- s3\n  |     \n  +- s4\n    \n\n"
    )
    assert three("snapshot-list", "test", "--name").stdout == "s1\ns2\ns3\ns4\n\n"
    assert three("snapshot-list", "test", "--roots", "--name").stdout == "s1\n\n"
    assert three("snapshot-list", "test", "--leaves", "--name").stdout == "s3\ns4\n\n"
    assert three("snapshot-list", "test", "--no-leaves", "--name").stdout == "s1\ns2\n\n"
    assert three("snapshot-list", "test", "--from", "s1", "--name").stdout == "s2\ns4\n\n"
    assert three("snapshot-list", "test", "--from", "s1", "--descendants", "--name").stdout == (
        "s2\ns3\ns4\n\n"
    )
    assert three("snapshot-list", "test", "--current", "--name").stdout == "\n"  # s4 is a leaf
    assert three("snapshot-list", "test", "--topological", "--name").stdout.splitlines()[0] == "s1"
    assert three("snapshot-list", "test", "--active", "--internal", "--name").stdout == (
        "s1\ns2\ns3\ns4\n\n"
    )
    assert three("snapshot-list", "test", "--inactive", "--name").stdout == "\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tree", "--name"], "Options --tree and --name are mutually exclusive"),
        (["--roots", "--from", "s1"], "Options --roots and --from are mutually exclusive"),
        (["--tree", "--leaves"], "--leaves and --tree are mutually exclusive"),
        (["--descendants"], "--descendants requires either --from or --current"),
    ],
)
def test_snapshot_list_option_conflicts(three: Run, args: list[str], message: str) -> None:
    result = three("snapshot-list", "test", *args)
    assert result.exit_code == 1
    assert result.stderr == f"error: {message}\n"


def test_snapshot_info(three: Run) -> None:
    assert three("snapshot-info", "test", "s1").stdout == (
        "Name:           s1\n"
        "Domain:         test\n"
        "Current:        no\n"
        "State:          running\n"
        "Location:       internal\n"
        "Parent:         -\n"
        "Children:       2\n"
        "Descendants:    3\n"
        "Metadata:       yes\n"
        "\n"
    )
    current = three("snapshot-info", "test", "--current").stdout.splitlines()
    assert current[0] == "Name:           s4"
    assert current[2] == "Current:        yes"
    result = three("snapshot-info", "test")
    assert result.exit_code == 1
    assert result.stderr == "error: --snapshotname or --current is required\n"
    result = three("snapshot-info", "test", "s1", "--current")
    assert result.stderr == "error: --snapshotname and --current are mutually exclusive\n"


def test_snapshot_current_parent_and_dumpxml(three: Run) -> None:
    assert three("snapshot-current", "test", "--name").stdout == "s4\n"
    current = three("snapshot-current", "test").stdout
    assert current.startswith("<domainsnapshot") and "<name>s4</name>" in current
    assert "<description>fourth</description>" in current
    assert three("snapshot-parent", "test", "s3").stdout == "s2\n"
    assert three("snapshot-parent", "test", "--current").stdout == "s1\n"
    result = three("snapshot-parent", "test", "s1")
    assert result.exit_code == 1
    assert result.stderr == "error: snapshot 's1' has no parent\n"
    dumped = three("snapshot-dumpxml", "test", "s2").stdout
    assert "<name>s2</name>" in dumped and dumped.endswith("</domainsnapshot>\n\n")


def test_missing_snapshot_errors(run: Run) -> None:
    result = run("snapshot-current", "test")
    assert result.exit_code == 1
    assert result.stderr == "error: domain 'test' has no current snapshot\n"
    result = run("snapshot-dumpxml", "test", "nosuch")
    assert result.exit_code == 1
    assert "nosuch" in result.stderr


def test_snapshot_revert(three: Run, conn: virtkit.Connection) -> None:
    three("destroy", "test")
    assert three("snapshot-revert", "test", "s2", "--paused").stdout == (
        "Domain snapshot s2 reverted\n\n"
    )
    dom = conn.lookup_by_name("test")
    assert dom.state()[0] == DomainState.PAUSED
    assert dom.snapshot_current().get_name() == "s2"
    result = three("snapshot-revert", "test", "s2", "--running", "--paused")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == "error: Failed to revert snapshot s2"
    assert dom.state()[0] == DomainState.PAUSED


def test_snapshot_delete(three: Run, conn: virtkit.Connection) -> None:
    dom = conn.lookup_by_name("test")
    assert three("snapshot-delete", "test", "s3").stdout == "Domain snapshot s3 deleted\n\n"
    assert three("snapshot-delete", "test", "--children-only", "s1").stdout == (
        "Domain snapshot s1 children deleted\n\n"
    )
    assert [s.get_name() for s in dom.list_all_snapshots()] == ["s1"]
    assert three("snapshot-delete", "test", "--current", "--metadata").exit_code == 0
    assert dom.list_all_snapshots() == []
    result = three("snapshot-delete", "test", "s1")
    assert result.exit_code == 1


def test_snapshot_delete_children(three: Run, conn: virtkit.Connection) -> None:
    result = three("snapshot-delete", "test", "s1", "--children", "--children-only")
    assert result.exit_code == 1
    assert len(conn.lookup_by_name("test").list_all_snapshots()) == 4
    assert three("snapshot-delete", "test", "s1", "--children").exit_code == 0
    assert conn.lookup_by_name("test").list_all_snapshots() == []


def test_undefine_with_snapshots_needs_the_option(three: Run, conn: virtkit.Connection) -> None:
    three("destroy", "test")
    refused = three("undefine", "test")
    assert refused.exit_code == 1
    assert "--snapshots-metadata" in refused.stderr
    assert three("undefine", "test", "--snapshots-metadata").exit_code == 0
    assert conn.list_all_domains() == []


def test_snapshot_current_with_a_name_makes_it_current(three: Run) -> None:
    assert three("snapshot-current", "test", "s2").stdout == "Snapshot s2 set as current\n\n"
    assert three("snapshot-current", "test", "--name").stdout == "s2\n"
    result = three("snapshot-current", "test", "s3", "--name")
    assert result.exit_code == 1
    assert "cannot be used with a snapshot name" in result.stderr
    assert three("snapshot-current", "test", "--name").stdout == "s2\n"
    result = three("snapshot-current", "test", "nosuch")
    assert result.exit_code == 1 and "nosuch" in result.stderr


def snapshot_names(run: Run) -> list[str]:
    return run("snapshot-list", "test", "--name").stdout.split()


def test_snapshot_edit_redefines_the_snapshot(
    three: Run, editing: Callable[[str], None], conn: virtkit.Connection
) -> None:
    """The edited XML redefines the snapshot, which stays current; an editor that changes
    nothing redefines nothing."""
    editing("path.write_text(path.read_text().replace('fourth', 'the fourth'))")
    result = three("snapshot-edit", "test", "--current")
    assert (result.exit_code, result.stdout) == (0, "Snapshot s4 edited.\n\n"), result.stderr
    current = conn.lookup_by_name("test").snapshot_current()
    assert current.get_name() == "s4"
    assert "<description>the fourth</description>" in current.get_xml_desc()
    editing("pass")
    result = three("snapshot-edit", "test", "s2")
    assert result.stdout == "Snapshot s2 XML configuration not changed.\n\n"


def test_snapshot_edit_to_a_new_name_needs_rename_or_clone(
    three: Run, editing: Callable[[str], None]
) -> None:
    before = snapshot_names(three)
    editing("path.write_text(path.read_text().replace('<name>s4<', '<name>s5<'))")
    result = three("snapshot-edit", "test", "s4")
    assert result.exit_code == 1
    assert result.stderr == "error: Must use --rename or --clone to change s4 to s5\n"
    assert snapshot_names(three) == before
    result = three("snapshot-edit", "test", "s4", "--rename", "--clone")
    assert result.stderr == "error: --rename and --clone are mutually exclusive\n"

    result = three("snapshot-edit", "test", "s4", "--clone")
    assert result.stdout == "Snapshot s4 cloned to s5.\n\n", result.stderr
    assert snapshot_names(three) == [*before, "s5"]
    assert three("snapshot-current", "test", "--name").stdout == "s4\n"

    editing("path.write_text(path.read_text().replace('<name>s4<', '<name>s6<'))")
    result = three("snapshot-edit", "test", "s4", "--rename")
    assert result.stdout == "Snapshot s4 renamed to s6.\n\n", result.stderr
    assert sorted(snapshot_names(three)) == ["s1", "s2", "s3", "s5", "s6"]
    assert three("snapshot-current", "test", "--name").stdout == "s6\n"
    assert three("snapshot-parent", "test", "s6").stdout == "s1\n"


def test_snapshot_edit_does_not_rename_a_snapshot_with_children(
    three: Run, editing: Callable[[str], None]
) -> None:
    before = snapshot_names(three)
    editing("path.write_text(path.read_text().replace('<name>s2<', '<name>s7<'))")
    result = three("snapshot-edit", "test", "s2", "--rename")
    assert result.exit_code == 1
    assert "its children name it as their parent" in result.stderr
    assert snapshot_names(three) == before
