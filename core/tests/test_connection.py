"""The connection facade: read-only refusal, extensions wrapping operations, threads, filters."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import virtkit
from virtkit import hookimpl
from virtkit.connection import Connection, record_matches
from virtkit.constants import ConnectListAllDomainsFlags as ListFlags
from virtkit.constants import DomainState
from virtkit.domain import Domain
from virtkit.errors import ErrorCode, HookVetoError, ReadOnlyError, VirtError
from virtkit.inventory import operation_hooks
from virtkit.plugins import EXTENSION_GROUP
from virtkit.records import DomainRecord

InstallPlugin = Callable[..., None]

XML = (
    "<domain type='test'><name>{name}</name><memory unit='MiB'>64</memory>"
    "<os><type>hvm</type></os></domain>"
)

NODE = """<node>
  <domain type='test'><name>resident</name><uuid>{uuid}</uuid><memory>65536</memory>
    <os><type>hvm</type></os></domain>
</node>
"""


@pytest.fixture
def node_uri(tmp_path: Path) -> Callable[[str], str]:
    """Writes a node file holding one running domain 'resident'; returns its test:/// URI."""

    def make(label: str) -> str:
        path = tmp_path / f"{label}.xml"
        path.write_text(NODE.format(uuid=uuid.uuid4()))
        return f"test://{path}"

    return make


@pytest.fixture
def conn(node_uri: Callable[[str], str]) -> Iterator[Connection]:
    with virtkit.open(node_uri("node")) as connection:
        yield connection


# --------------------------------------------------------------------------- read-only

READS = {
    "virtkit_connect_close",
    "virtkit_connect_get_hostname",
    "virtkit_connect_get_version",
    "virtkit_connect_get_capabilities",
    "virtkit_connect_list_domains",
    "virtkit_connect_lookup_domain",
    "virtkit_domain_get_info",
    "virtkit_domain_get_xml",
    "virtkit_domain_get_job_info",
    "virtkit_snapshot_list",
    "virtkit_snapshot_get_xml",
    "virtkit_domain_xml_from_native",
    "virtkit_domain_xml_to_native",
}
"""Hooks a read-only connection may call."""

CHANGES: dict[str, Callable[[Connection, Domain, Connection, Path], object]] = {
    "virtkit_domain_define": lambda ro, dom, rw, tmp: ro.define_xml(XML.format(name="ro")),
    "virtkit_domain_create_transient": lambda ro, dom, rw, tmp: ro.create_xml(
        XML.format(name="ro")
    ),
    "virtkit_domain_undefine": lambda ro, dom, rw, tmp: dom.undefine_flags(snapshots_metadata=True),
    "virtkit_domain_start": lambda ro, dom, rw, tmp: dom.create(),
    "virtkit_domain_shutdown": lambda ro, dom, rw, tmp: dom.shutdown(),
    "virtkit_domain_destroy": lambda ro, dom, rw, tmp: dom.destroy(),
    "virtkit_domain_reboot": lambda ro, dom, rw, tmp: dom.reboot(),
    "virtkit_domain_reset": lambda ro, dom, rw, tmp: dom.reset(),
    "virtkit_domain_suspend": lambda ro, dom, rw, tmp: dom.suspend(),
    "virtkit_domain_resume": lambda ro, dom, rw, tmp: dom.resume(),
    "virtkit_domain_set_autostart": lambda ro, dom, rw, tmp: dom.set_autostart(True),
    "virtkit_domain_rename": lambda ro, dom, rw, tmp: dom.rename("renamed"),
    "virtkit_domain_save": lambda ro, dom, rw, tmp: dom.save(tmp / "image"),
    "virtkit_domain_restore": lambda ro, dom, rw, tmp: ro.restore(str(tmp / "image")),
    "virtkit_domain_managed_save": lambda ro, dom, rw, tmp: dom.managed_save(),
    "virtkit_domain_managed_save_remove": lambda ro, dom, rw, tmp: dom.managed_save_remove(),
    "virtkit_domain_open_console": lambda ro, dom, rw, tmp: dom.open_console(),
    "virtkit_domain_lxc_enter_namespace": lambda ro, dom, rw, tmp: dom.lxc_enter_namespace(
        ["true"]
    ),
    "virtkit_domain_abort_job": lambda ro, dom, rw, tmp: dom.abort_job(),
    "virtkit_snapshot_create": lambda ro, dom, rw, tmp: dom.snapshot_create_xml(
        "<domainsnapshot><name>ro</name></domainsnapshot>"
    ),
    "virtkit_snapshot_revert": lambda ro, dom, rw, tmp: dom.revert_to_snapshot(
        dom.snapshot_lookup_by_name("kept")
    ),
    "virtkit_snapshot_delete": lambda ro, dom, rw, tmp: dom.snapshot_lookup_by_name(
        "kept"
    ).delete(),
    "virtkit_migrate_begin": lambda ro, dom, rw, tmp: dom.migrate(rw),
    "virtkit_migrate_perform": lambda ro, dom, rw, tmp: dom.migrate(rw),
    "virtkit_migrate_confirm": lambda ro, dom, rw, tmp: dom.migrate(rw),
    "virtkit_migrate_prepare": lambda ro, dom, rw, tmp: Domain(rw, dom.ref).migrate(ro),
    "virtkit_migrate_finish": lambda ro, dom, rw, tmp: Domain(rw, dom.ref).migrate(ro),
}
"""For each changing hook, a public call that reaches it (``dom`` is on the read-only side)."""


def test_every_operation_is_classified() -> None:
    unclassified = set(operation_hooks()) - READS - CHANGES.keys()
    assert not unclassified, f"add these hooks to READS or CHANGES: {sorted(unclassified)}"


@pytest.mark.parametrize("hook", sorted(CHANGES))
def test_read_only_refuses_every_change(hook: str, tmp_path: Path) -> None:
    if hook not in operation_hooks():
        pytest.fail(f"{hook} is not in the hook specifications any more: drop it from CHANGES")
    with virtkit.open("test:///default") as rw, virtkit.open_read_only("test:///default") as ro:
        rw_dom = rw.define_xml(XML.format(name=f"ro-{uuid.uuid4().hex[:8]}"))
        try:
            rw_dom.snapshot_create_xml("<domainsnapshot><name>kept</name></domainsnapshot>")
            before = (rw_dom.state(), rw_dom.xml_desc(), len(rw_dom.list_all_snapshots()))
            dom = ro.lookup_by_name(rw_dom.name())
            with pytest.raises(VirtError) as info:
                CHANGES[hook](ro, dom, rw, tmp_path)
            assert info.value.code == ErrorCode.OPERATION_DENIED
            assert "read only access prevents" in info.value.message
            if hook.startswith("virtkit_domain"):
                assert isinstance(info.value, ReadOnlyError)
            assert (rw_dom.state(), rw_dom.xml_desc(), len(rw_dom.list_all_snapshots())) == before
            assert not (tmp_path / "image").exists()
            assert [d.name() for d in rw.list_all_domains()].count("ro") == 0
        finally:
            rw_dom.undefine_flags(snapshots_metadata=True)


def test_read_only_connection_reads(node_uri: Callable[[str], str]) -> None:
    with virtkit.open_read_only(node_uri("ro")) as ro:
        dom = ro.lookup_by_name("resident")
        assert dom.state()[0] == DomainState.RUNNING
        assert "<name>resident</name>" in dom.xml_desc()
        assert ro.get_hostname() and ro.get_capabilities()
        assert dom.job_info().type == 0
        assert dom.list_all_snapshots() == []


def test_read_only_refusal_comes_before_parsing(node_uri: Callable[[str], str]) -> None:
    with virtkit.open_read_only(node_uri("ro")) as ro, pytest.raises(ReadOnlyError):
        ro.define_xml("<not-even-a-domain")


# --------------------------------------------------------------------------- extensions

VETO = """
from virtkit import hookimpl
from virtkit.errors import HookVetoError

seen = []

class Veto:
    @hookimpl(wrapper=True)
    def virtkit_domain_start(self, dom, flags, snapshot):
        seen.append(dom.name)
        if dom.name.startswith("forbidden"):
            raise HookVetoError(f"policy forbids starting {dom.name}")
        return (yield)

plugin = Veto()
"""


def test_a_wrapper_vetoes_a_start(install_plugin: InstallPlugin, conn: Connection) -> None:
    install_plugin(
        "virtkit-veto",
        entry_points={EXTENSION_GROUP: {"veto": "vk_veto:plugin"}},
        modules={"vk_veto": VETO},
    )
    with virtkit.open(conn.get_uri()) as guarded:
        forbidden = guarded.define_xml(XML.format(name="forbidden-1"))
        allowed = guarded.define_xml(XML.format(name="allowed-1"))
        with pytest.raises(HookVetoError, match="policy forbids starting forbidden-1"):
            forbidden.create()
        assert forbidden.state()[0] == DomainState.SHUTOFF
        allowed.create()
        assert allowed.state()[0] == DomainState.RUNNING
    import vk_veto  # type: ignore[import-not-found]

    assert vk_veto.seen == ["forbidden-1", "allowed-1"]


HOOK_SCRIPT = """
from virtkit import hookimpl
from virtkit.constants import HookEvent

events = []

class Script:
    @hookimpl
    def virtkit_domain_hook(self, event, name, document):
        events.append((str(event), name))
        if event == HookEvent.PREPARE and name == "vetoed":
            raise RuntimeError("no resources for it")
        if event == HookEvent.MIGRATE:
            moved = "<description>moved</description></domain>"
            document.xml = document.xml.replace("</domain>", moved)
        if event == HookEvent.STOPPED:
            raise RuntimeError("ignored after the fact")

plugin = Script()
"""


def test_hook_points_veto_and_order(install_plugin: InstallPlugin, conn: Connection) -> None:
    install_plugin(
        "virtkit-script",
        entry_points={EXTENSION_GROUP: {"script": "vk_script:plugin"}},
        modules={"vk_script": HOOK_SCRIPT},
    )
    with virtkit.open(conn.get_uri()) as scripted:
        dom = scripted.define_xml(XML.format(name="plain"))
        dom.create()
        dom.destroy()
        vetoed = scripted.define_xml(XML.format(name="vetoed"))
        with pytest.raises(
            HookVetoError, match="hook 'prepare' refused domain 'vetoed': no resources"
        ):
            vetoed.create()
        assert vetoed.state()[0] == DomainState.SHUTOFF
    import vk_script  # type: ignore[import-not-found]

    assert vk_script.events == [
        ("prepare", "plain"),
        ("start", "plain"),
        ("started", "plain"),
        ("stopped", "plain"),
        ("release", "plain"),
        ("prepare", "vetoed"),
    ]


def test_migrate_hook_rewrites_the_destination_xml(
    install_plugin: InstallPlugin, node_uri: Callable[[str], str]
) -> None:
    install_plugin(
        "virtkit-script",
        entry_points={EXTENSION_GROUP: {"script": "vk_script:plugin"}},
        modules={"vk_script": HOOK_SCRIPT},
    )
    with virtkit.open(node_uri("src")) as src, virtkit.open(node_uri("dst")) as dst:
        dom = src.define_xml(XML.format(name="mover"))
        dom.create()
        moved = dom.migrate(dst)
        assert "<description>moved</description>" in moved.xml_desc()
        assert moved.state()[0] == DomainState.RUNNING


REWRITE_BEGIN = """
from virtkit import hookimpl

class Rewrite:
    @hookimpl(wrapper=True)
    def virtkit_migrate_begin(self, dom, flags, params):
        offer = yield
        title = "<title>rewritten</title></domain>"
        return offer._replace(xml=offer.xml.replace("</domain>", title))

plugin = Rewrite()
"""


def test_a_wrapper_rewrites_the_migration_offer(
    install_plugin: InstallPlugin, node_uri: Callable[[str], str]
) -> None:
    install_plugin(
        "virtkit-rewrite",
        entry_points={EXTENSION_GROUP: {"rewrite": "vk_rewrite:plugin"}},
        modules={"vk_rewrite": REWRITE_BEGIN},
    )
    with virtkit.open(node_uri("src")) as src, virtkit.open(node_uri("dst")) as dst:
        dom = src.create_xml(XML.format(name="mover"))
        moved = dom.migrate(dst)
        assert "<title>rewritten</title>" in moved.xml_desc()
        assert not moved.is_persistent()
        assert src.list_all_domains(ListFlags.TRANSIENT) == []


# --------------------------------------------------------------------------- threads


def test_one_connection_from_several_threads(conn: Connection) -> None:
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for round_ in range(20):
                dom = conn.define_xml(XML.format(name=f"t{worker}-{round_}"))
                dom.create()
                dom.suspend()
                dom.resume()
                conn.list_all_domains(ListFlags.ACTIVE)
                dom.destroy()
                dom.undefine()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [d.name() for d in conn.list_all_domains()] == ["resident"]
    ids = [conn.lookup_by_name("resident").id()]
    assert ids == [1]


# --------------------------------------------------------------------------- list filters


def _record(**values: Any) -> DomainRecord:
    base: dict[str, Any] = {
        "name": "d",
        "uuid": uuid.uuid4(),
        "id": -1,
        "state": DomainState.SHUTOFF,
    }
    base.update(values)
    return DomainRecord(**base)


@pytest.mark.parametrize(
    ("flags", "record", "listed"),
    [
        (0, _record(), True),
        (ListFlags.ACTIVE, _record(), False),
        (ListFlags.ACTIVE, _record(id=3, state=DomainState.RUNNING), True),
        (ListFlags.ACTIVE | ListFlags.INACTIVE, _record(), True),
        (ListFlags.TRANSIENT, _record(persistent=True), False),
        (ListFlags.PERSISTENT, _record(persistent=True), True),
        (ListFlags.RUNNING, _record(id=2, state=DomainState.PAUSED), False),
        (ListFlags.PAUSED, _record(id=2, state=DomainState.PAUSED), True),
        (ListFlags.SHUTOFF, _record(), True),
        (ListFlags.OTHER, _record(id=2, state=DomainState.CRASHED), True),
        (ListFlags.OTHER, _record(), False),
        (ListFlags.RUNNING | ListFlags.SHUTOFF, _record(), True),
        (ListFlags.MANAGEDSAVE, _record(managed_save=True), True),
        (ListFlags.NO_MANAGEDSAVE, _record(managed_save=True), False),
        (ListFlags.AUTOSTART, _record(autostart=False), False),
        (ListFlags.NO_AUTOSTART, _record(autostart=False), True),
        (ListFlags.HAS_SNAPSHOT, _record(snapshot_count=2), True),
        (ListFlags.NO_SNAPSHOT, _record(snapshot_count=2), False),
        (ListFlags.INACTIVE | ListFlags.AUTOSTART, _record(autostart=True), True),
        (ListFlags.INACTIVE | ListFlags.AUTOSTART, _record(autostart=False), False),
    ],
)
def test_list_filters_follow_libvirt(flags: int, record: DomainRecord, listed: bool) -> None:
    assert record_matches(record, flags) is listed


def test_list_filters_on_a_live_node(conn: Connection) -> None:
    off = conn.define_xml(XML.format(name="off"))
    paused = conn.define_xml(XML.format(name="paused"))
    paused.create(paused=True)
    off.set_autostart(True)
    transient = conn.create_xml(XML.format(name="transient"))

    def names(flags: int) -> list[str]:
        return sorted(d.name() for d in conn.list_all_domains(flags))

    assert names(0) == ["off", "paused", "resident", "transient"]
    assert names(ListFlags.ACTIVE) == ["paused", "resident", "transient"]
    assert names(ListFlags.INACTIVE) == ["off"]
    assert names(ListFlags.TRANSIENT) == ["transient"]
    assert names(ListFlags.PAUSED) == ["paused"]
    assert names(ListFlags.RUNNING | ListFlags.PERSISTENT) == ["resident"]
    assert names(ListFlags.AUTOSTART) == ["off"]
    transient.snapshot_create_xml("<domainsnapshot><name>s</name></domainsnapshot>")
    assert names(ListFlags.HAS_SNAPSHOT) == ["transient"]
    assert [r.name for r in conn.list_all_domain_records(ListFlags.INACTIVE)] == ["off"]


class LookupLog:
    """An extension that records how the driver is asked to find domains."""

    def __init__(self) -> None:
        self.asked: list[tuple[str | None, uuid.UUID | None]] = []

    @hookimpl(wrapper=True)
    def virtkit_connect_lookup_domain(
        self, name: str | None, uuid: uuid.UUID | None, id: int | None
    ) -> Any:
        self.asked.append((name, uuid))
        return (yield)


def test_a_handle_finds_its_domain_by_name_then_by_uuid(node_uri: Callable[[str], str]) -> None:
    """A handle's record is asked for by name (drivers find a name without reading every
    domain); only when that name is gone or names another domain is the UUID searched."""
    log = LookupLog()
    with virtkit.open(node_uri("node"), extensions=[log]) as conn:
        dom = conn.define_xml(XML.format(name="first"))
        assert dom.state()[0] == DomainState.SHUTOFF
        assert log.asked == [("first", None)]
        new_uuid = uuid.uuid4()
        dom.undefine()
        conn.define_xml(
            XML.format(name="first").replace("</name>", f"</name><uuid>{new_uuid}</uuid>")
        )
        log.asked.clear()
        with pytest.raises(VirtError, match=str(dom.uuid())):
            dom.state()  # its name now belongs to another domain: not that one's record
        assert log.asked == [("first", None), (None, dom.uuid())]


def test_closing_twice_is_harmless_and_context_manager_closes(
    node_uri: Callable[[str], str],
) -> None:
    with virtkit.open(node_uri("c")) as connection:
        assert connection.is_alive()
    assert not connection.is_alive()
    connection.close()
