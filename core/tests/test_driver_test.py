"""The test driver's own semantics: libvirt's default node, node files, save images,
migration between nodes, jobs, autodestroy and XML flags."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import virtkit
from virtkit.connection import Connection
from virtkit.constants import (
    DomainJobType,
    DomainMigrateFlags,
    DomainRunningReason,
    DomainShutoffReason,
    DomainState,
)
from virtkit.drivers.test.nodefile import default_node
from virtkit.errors import (
    DomainExistsError,
    ErrorCode,
    HostSystemError,
    NoConnectError,
    NoDomainError,
    OperationFailedError,
    OperationInvalidError,
    XMLError,
)
from virtkit.migration import MigrationError

XML = (
    "<domain type='test'><name>{name}</name><memory unit='MiB'>64</memory>"
    "<os><type>hvm</type></os>{extra}</domain>"
)
DEFAULT_UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"


def xml(name: str, extra: str = "") -> str:
    return XML.format(name=name, extra=extra)


@pytest.fixture
def write_node(tmp_path: Path) -> Callable[..., str]:
    """Writes a node file from domain snippets; returns its test:/// URI."""

    def make(*domains: str, label: str = "node") -> str:
        path = tmp_path / f"{label}.xml"
        path.write_text(
            "<node xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
            + "\n".join(domains)
            + "\n</node>\n"
        )
        return f"test://{path}"

    return make


@pytest.fixture
def node(write_node: Callable[..., str]) -> Iterator[Connection]:
    with virtkit.open(write_node()) as conn:
        yield conn


# --------------------------------------------------------------------------- the default node


def test_default_node_holds_libvirts_running_test_domain() -> None:
    fresh = default_node()
    (domain,) = fresh.by_uuid.values()
    assert (domain.record.name, str(domain.record.uuid)) == ("test", DEFAULT_UUID)
    assert (domain.record.id, domain.record.state, domain.record.reason) == (
        1,
        DomainState.RUNNING,
        DomainRunningReason.BOOTED,
    )
    live = domain.xml(0)
    assert live.startswith("<domain type='test' id='1'>\n  <name>test</name>\n")
    for line in (
        "<memory unit='KiB'>8388608</memory>",
        "<currentMemory unit='KiB'>2097152</currentMemory>",
        "<vcpu placement='static'>2</vcpu>",
        "<type arch='i686'>hvm</type>",
        "<source file='/guest/diskimage1'/>",
        "<mac address='aa:bb:cc:dd:ee:ff'/>",
    ):
        assert line in live


def test_default_node_through_the_api() -> None:
    with virtkit.open("test:///default") as conn:
        dom = conn.lookup_by_uuid_string(DEFAULT_UUID)
        assert dom.name() == "test" and dom.is_persistent()
        info = dom.info()
        assert (info.max_memory_kib, info.memory_kib, info.vcpus) == (8388608, 2097152, 2)
        assert conn.get_type() == "Test" and conn.get_version() == 2
        assert "<arch>i686</arch>" in conn.get_capabilities()


def test_default_node_is_shared_by_connections(
    new_domain: Callable[[Connection, str], str],
) -> None:
    with virtkit.open("test:///default") as one, virtkit.open("test:///default") as two:
        name = new_domain(one, "shared")
        assert two.lookup_by_name(name).uuid() == one.lookup_by_name(name).uuid()


@pytest.fixture
def new_domain() -> Iterator[Callable[[Connection, str], str]]:
    """Defines uniquely named domains on test:///default and removes them after the test."""
    made: list[tuple[Connection, str]] = []

    def define(conn: Connection, prefix: str) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        conn.define_xml(xml(name))
        made.append((conn, name))
        return name

    yield define
    with virtkit.open("test:///default") as conn:
        for _, name in made:
            try:
                dom = conn.lookup_by_name(name)
            except NoDomainError:
                continue
            if dom.is_active():
                dom.destroy()
            if dom.is_persistent():
                dom.undefine_flags(snapshots_metadata=True, managed_save=True)


# --------------------------------------------------------------------------- node files


def test_node_files_are_private_to_each_connection(write_node: Callable[..., str]) -> None:
    uri = write_node()
    with virtkit.open(uri) as one, virtkit.open(uri) as two:
        one.define_xml(xml("only-here"))
        assert [d.name() for d in two.list_all_domains()] == []


def test_node_file_states_and_flags(write_node: Callable[..., str], tmp_path: Path) -> None:
    (tmp_path / "outside.xml").write_text(xml("referenced"))
    uri = write_node(
        "<domain type='test'><name>runs</name><memory>1024</memory>"
        "<os><type>hvm</type></os></domain>",
        "<domain type='test'><name>off</name><memory>1024</memory><os><type>hvm</type></os>"
        "<test:runstate>5</test:runstate><test:hasmanagedsave/></domain>",
        "<domain type='test'><name>paused</name><memory>1024</memory><os><type>hvm</type></os>"
        "<test:runstate>3</test:runstate><test:transient/></domain>",
        "<domain file='outside.xml'/>",
    )
    with virtkit.open(uri) as conn:
        states = {d.name(): (d.state()[0], d.is_persistent()) for d in conn.list_all_domains()}
        assert states == {
            "runs": (DomainState.RUNNING, True),
            "off": (DomainState.SHUTOFF, True),
            "paused": (DomainState.PAUSED, False),
            "referenced": (DomainState.RUNNING, True),
        }
        off = conn.lookup_by_name("off")
        assert off.has_managed_save_image()
        assert "runstate" not in off.xml_desc() and "test:" not in off.xml_desc()
        off.create()
        assert off.state() == (DomainState.RUNNING, DomainRunningReason.RESTORED)
        assert [conn.lookup_by_id(i).name() for i in (1, 2)] == ["runs", "paused"]


@pytest.mark.parametrize(
    ("content", "error", "complaint"),
    [
        ("<node><domain type='test'><name>a</name>", XMLError, "line"),
        ("<domain type='test'><name>a</name></domain>", XMLError, "expected root element <node>"),
        (
            "<node><domain type='test'><name>a</name><test:runstate xmlns:test="
            "'http://libvirt.org/schemas/domain/test/1.0'>x</test:runstate></domain></node>",
            XMLError,
            "not a domain state number",
        ),
        (
            "<node><domain type='test'><name>a</name></domain><domain type='test'><name>a</name>"
            "</domain></node>",
            DomainExistsError,
            "defined twice",
        ),
        ("<node><domain file='missing.xml'/></node>", XMLError, "cannot read domain file"),
    ],
)
def test_bad_node_files_say_what_and_where(
    tmp_path: Path, content: str, error: type[Exception], complaint: str
) -> None:
    path = tmp_path / "bad.xml"
    path.write_text(content)
    with pytest.raises(error) as info:
        virtkit.open(f"test://{path}")
    assert str(path) in str(info.value) and complaint in str(info.value)


@pytest.mark.parametrize(
    ("uri", "complaint"),
    [
        ("test:///no/such/node.xml", "cannot open test node file '/no/such/node.xml'"),
        ("test:///", "names no node"),
        ("test://otherhost/default", "serves only local URIs"),
        ("test+ssh://h/default", "serves only local URIs"),
    ],
)
def test_uris_the_test_driver_refuses(uri: str, complaint: str) -> None:
    with pytest.raises(NoConnectError, match=complaint):
        virtkit.open(uri)


# --------------------------------------------------------------------------- definitions and XML


def test_define_applies_libvirts_defaults_and_keeps_the_input(node: Connection) -> None:
    dom = node.define_xml(xml("canon", "<devices><graphics type='vnc' passwd='s3cret'/></devices>"))
    text = dom.xml_desc()
    assert "<currentMemory unit='KiB'>65536</currentMemory>" in text
    assert "<type arch='i686'>hvm</type>" in text and "<on_crash>destroy</on_crash>" in text
    assert "s3cret" not in text
    assert "passwd='s3cret'" in dom.xml_desc(secure=True)


def test_redefining_a_running_domain_changes_only_the_next_boot(node: Connection) -> None:
    dom = node.define_xml(xml("redef"))
    dom.create()
    node.define_xml(
        xml("redef", "<description>next</description>").replace(
            "<name>redef</name>", f"<name>redef</name><uuid>{dom.uuid()}</uuid>"
        )
    )
    assert "next" not in dom.xml_desc()
    assert "next" in dom.xml_desc(inactive=True)
    dom.destroy()
    dom.create()
    assert "next" in dom.xml_desc()


def test_define_refuses_a_uuid_taken_under_another_name(node: Connection) -> None:
    dom = node.define_xml(xml("first"))
    clash = xml("second").replace(
        "<name>second</name>", f"<name>second</name><uuid>{dom.uuid()}</uuid>"
    )
    with pytest.raises(
        DomainExistsError, match=f"domain 'first' is already defined with uuid {dom.uuid()}"
    ):
        node.define_xml(clash)


def test_transient_domain_rules(node: Connection) -> None:
    dom = node.create_xml(xml("fleeting"), paused=True)
    assert dom.state()[0] == DomainState.PAUSED and not dom.is_persistent()
    with pytest.raises(OperationInvalidError, match="transient"):
        dom.set_autostart(True)
    with pytest.raises(OperationInvalidError, match="transient"):
        dom.managed_save()
    with pytest.raises(OperationInvalidError, match="transient"):
        dom.undefine()
    node.define_xml(dom.xml_desc())
    assert dom.is_persistent() and dom.is_active()


def test_autodestroy_domains_go_with_their_connection(
    new_domain: Callable[[Connection, str], str],
) -> None:
    with virtkit.open("test:///default") as watcher:
        owner = virtkit.open("test:///default")
        name = new_domain(owner, "autodestroy")
        owner.lookup_by_name(name).create(autodestroy=True)
        kept = new_domain(owner, "kept")
        owner.lookup_by_name(kept).create()
        owner.close()
        assert watcher.lookup_by_name(name).state() == (
            DomainState.SHUTOFF,
            DomainShutoffReason.DESTROYED,
        )
        assert watcher.lookup_by_name(kept).state()[0] == DomainState.RUNNING


# --------------------------------------------------------------------------- save images


def test_save_failure_leaves_the_domain_running(node: Connection, tmp_path: Path) -> None:
    dom = node.create_xml(xml("saver"))
    target = tmp_path / "no-such-dir" / "image"
    with pytest.raises(HostSystemError, match="cannot write save image"):
        dom.save(target)
    assert dom.state()[0] == DomainState.RUNNING
    assert not target.parent.exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "node.xml"]


def test_save_and_restore_a_transient_domain(node: Connection, tmp_path: Path) -> None:
    dom = node.create_xml(xml("traveller"))
    dom.suspend()
    image = tmp_path / "image"
    dom.save(image)
    with pytest.raises(NoDomainError):
        node.lookup_by_name("traveller")
    restored = node.restore(str(image))
    assert restored.state()[0] == DomainState.PAUSED and not restored.is_persistent()
    with pytest.raises(OperationInvalidError, match="already active"):
        node.restore(str(image))


def test_restore_refuses_what_is_not_a_save_image(node: Connection, tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_text("not an image\n")
    with pytest.raises(OperationFailedError, match="not a save image of the test driver"):
        node.restore(str(junk))
    with pytest.raises(HostSystemError, match="cannot read save image"):
        node.restore(str(tmp_path / "missing"))
    assert [d.name() for d in node.list_all_domains()] == []


def test_save_with_alternative_xml(node: Connection, tmp_path: Path) -> None:
    dom = node.define_xml(xml("alt"))
    dom.create()
    image = tmp_path / "image"
    dom.save(image, xml=xml("alt", "<description>from image</description>"))
    node.restore(str(image))
    assert "from image" in dom.xml_desc()
    with pytest.raises(Exception, match="describes domain 'other'"):
        dom.save(tmp_path / "image2", xml=xml("other"))


# --------------------------------------------------------------------------- migration


def test_migrate_between_two_nodes(write_node: Callable[..., str]) -> None:
    with virtkit.open(write_node(label="src")) as src, virtkit.open(write_node(label="dst")) as dst:
        dom = src.define_xml(xml("mover"))
        dom.create()
        progress: list[float | None] = []
        moved = dom.migrate(
            dst, DomainMigrateFlags.LIVE, progress=lambda p: progress.append(p.fraction)
        )
        assert moved.state() == (DomainState.RUNNING, DomainRunningReason.MIGRATED)
        assert moved.uuid() == dom.uuid() and not moved.is_persistent()
        assert dom.state() == (DomainState.SHUTOFF, DomainShutoffReason.MIGRATED)
        assert progress == [1.0]
        job = dom.job_info(completed=True)
        assert job.type == DomainJobType.COMPLETED and job.operation == "outgoing migration"
        assert dom.job_info().type == DomainJobType.NONE


def test_migrate_persist_and_undefine_source(write_node: Callable[..., str]) -> None:
    with virtkit.open(write_node(label="src")) as src, virtkit.open(write_node(label="dst")) as dst:
        dom = src.define_xml(xml("settler"))
        dom.create()
        dom.suspend()
        moved = dom.migrate(
            dst, DomainMigrateFlags.PERSIST_DEST | DomainMigrateFlags.UNDEFINE_SOURCE
        )
        assert moved.is_persistent() and moved.state()[0] == DomainState.PAUSED
        with pytest.raises(NoDomainError):
            src.lookup_by_name("settler")


def test_offline_migration_copies_the_config(write_node: Callable[..., str]) -> None:
    with virtkit.open(write_node(label="src")) as src, virtkit.open(write_node(label="dst")) as dst:
        dom = src.define_xml(xml("resting"))
        with pytest.raises(MigrationError, match="phase 'begin' on the source: .* not running"):
            dom.migrate(dst)
        moved = dom.migrate(dst, DomainMigrateFlags.OFFLINE | DomainMigrateFlags.PERSIST_DEST)
        assert moved.is_persistent() and not moved.is_active()
        assert dom.state()[0] == DomainState.SHUTOFF


def test_failed_migration_leaves_the_source_as_it_was(
    write_node: Callable[..., str], new_domain: Callable[[Connection, str], str]
) -> None:
    with virtkit.open("test:///default") as one, virtkit.open("test:///default") as two:
        name = new_domain(one, "stay")
        dom = one.lookup_by_name(name)
        dom.create()
        with pytest.raises(MigrationError) as info:
            dom.migrate(two)
        assert info.value.phase == "prepare" and "already active here" in info.value.message
        assert info.value.code == ErrorCode.OPERATION_INVALID
        assert dom.state()[0] == DomainState.RUNNING
        assert dom.job_info().type == DomainJobType.NONE
        with virtkit.open(write_node(label="elsewhere")) as elsewhere:
            assert dom.migrate(elsewhere).is_active()


class FailingMigration:
    """An extension that breaks perform on the source and the cancelled finish after it."""

    @virtkit.hookimpl(wrapper=True)
    def virtkit_migrate_perform(self, target):  # type: ignore[no-untyped-def]
        raise OperationFailedError("the stream broke")
        yield  # pragma: no cover - a wrapper is a generator

    @virtkit.hookimpl(wrapper=True)
    def virtkit_migrate_finish(self, name, cancelled):  # type: ignore[no-untyped-def]
        if cancelled:
            raise OperationFailedError(f"could not remove the half-arrived '{name}'")
        return (yield)


def test_a_failed_rollback_is_reported_with_the_first_failure(
    write_node: Callable[..., str],
) -> None:
    broken = FailingMigration()
    with (
        virtkit.open(write_node(label="src"), extensions=[broken]) as src,
        virtkit.open(write_node(label="dst"), extensions=[broken]) as dst,
    ):
        dom = src.define_xml(xml("mover"))
        dom.create()
        with pytest.raises(MigrationError) as info:
            dom.migrate(dst)
        assert info.value.phase == "perform" and info.value.side == "source"
        assert info.value.message == (
            "migration failed in phase 'perform' on the source: the stream broke; the rollback "
            "failed too: destination (finish): could not remove the half-arrived 'mover'"
        )
        assert info.value.code == ErrorCode.OPERATION_FAILED
        assert dom.state()[0] == DomainState.RUNNING  # the source's confirm still ran
        assert dom.job_info().type == DomainJobType.NONE


def test_abort_job(node: Connection) -> None:
    dom = node.create_xml(xml("idle"))
    with pytest.raises(OperationInvalidError, match="no job is active"):
        dom.abort_job()
