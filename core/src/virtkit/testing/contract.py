"""The shared driver-contract suite: the semantics every virtkit driver keeps.

A driver plugin runs it against its own URI by subclassing :class:`DriverContract` in one of
its test modules. The subclass's name must start with ``Test`` so pytest collects it::

    from typing import ClassVar

    from virtkit.testing.contract import DriverContract


    class TestQemuContract(DriverContract):
        uri = "qemu:///embed?root=/tmp/vk"      # or override the ``contract_uri`` fixture
        features: ClassVar[frozenset[str]] = frozenset({"suspend", "snapshots", "managed_save"})

        def domain_xml(self, name: str) -> str:
            return f"<domain type='kvm'><name>{name}</name>...</domain>"

What the subclass provides:

- ``uri`` (or the ``contract_uri`` fixture, when the URI depends on ``tmp_path`` or on a
  simulator the plugin starts): the connection the suite opens for each test.
- :meth:`DriverContract.domain_xml`: the XML of a domain named ``name`` that the driver defines
  and starts on this machine (small, quick to boot). Names are unique per test.
- ``features``: the optional operations the driver supports, from :data:`FEATURES`. The suite
  checks that the driver implements the hooks of what it declares (a missing hook is a failure),
  runs the tests of each declared feature, and for an undeclared one checks instead that its
  operations fail with :class:`~virtkit.errors.NoSupportError` naming driver and operation.
  Nothing is skipped.
- ``event_timeout``: seconds to wait for a lifecycle event (default 5).

The suite checks the common semantics: open/close and host calls; define, lookup (name, UUID,
id), list filters and undefine; start, destroy, shutdown, states and reasons; transient domains;
``xml_desc`` flags; read-only refusal of every change with libvirt's ``OPERATION_DENIED``; the
errors for missing domains; lifecycle events; and, when declared, suspend/resume, autostart,
save/restore, managed save and the snapshot tree (current, revert, delete with children).

Every test cleans up the domains it made, so the suite can share a hypervisor with other
tests. Shut-off reasons the driver cannot know (a guest that powers itself off) are accepted
where libvirt's own drivers differ.
"""

from __future__ import annotations

import contextlib
import queue
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from lxml import etree

import virtkit
from virtkit.connection import Connection
from virtkit.constants import ConnectListAllDomainsFlags as ListFlags
from virtkit.constants import (
    DomainEventStartedDetail,
    DomainEventStoppedDetail,
    DomainEventType,
    DomainPausedReason,
    DomainRunningReason,
    DomainShutoffReason,
    DomainState,
    DomainUndefineFlags,
)
from virtkit.constants import DomainSnapshotListFlags as SnapFlags
from virtkit.domain import Domain
from virtkit.errors import (
    DomainExistsError,
    ErrorCode,
    InvalidArgumentError,
    NoDomainError,
    NoSnapshotError,
    NoSupportError,
    OperationInvalidError,
    ReadOnlyError,
    VirtError,
)
from virtkit.xml import parse_domain, parse_snapshot

FEATURES: dict[str, frozenset[str]] = {
    "suspend": frozenset({"virtkit_domain_suspend", "virtkit_domain_resume"}),
    "autostart": frozenset({"virtkit_domain_set_autostart"}),
    "rename": frozenset({"virtkit_domain_rename"}),
    "save": frozenset({"virtkit_domain_save", "virtkit_domain_restore"}),
    "managed_save": frozenset(
        {"virtkit_domain_managed_save", "virtkit_domain_managed_save_remove"}
    ),
    "snapshots": frozenset(
        {
            "virtkit_snapshot_create",
            "virtkit_snapshot_list",
            "virtkit_snapshot_get_xml",
            "virtkit_snapshot_revert",
            "virtkit_snapshot_delete",
        }
    ),
}
"""Optional operations a driver declares, and the hooks each needs."""

REQUIRED_HOOKS = frozenset(
    {
        "virtkit_connect_get_hostname",
        "virtkit_connect_get_capabilities",
        "virtkit_connect_list_domains",
        "virtkit_connect_lookup_domain",
        "virtkit_domain_define",
        "virtkit_domain_create_transient",
        "virtkit_domain_undefine",
        "virtkit_domain_start",
        "virtkit_domain_shutdown",
        "virtkit_domain_destroy",
        "virtkit_domain_get_info",
        "virtkit_domain_get_xml",
    }
)
"""Hooks every driver implements: without them a connection cannot manage a domain."""


def declared_hooks(driver_class: type[Any]) -> set[str]:
    """Register an unconstructed ``driver_class`` on a fresh plugin manager (pluggy checks every
    hook's name and arguments against the specifications) and return the hooks it implements.

    For drivers whose hypervisor cannot run where the tests run: the declarations are checked
    without opening a connection.
    """
    from virtkit.plugins import implemented_hooks, new_plugin_manager

    pm = new_plugin_manager()
    driver = object.__new__(driver_class)
    pm.register(driver)
    pm.check_pending()
    return implemented_hooks(driver)


class EventLog:
    """Collects a connection's lifecycle events; :meth:`expect` waits for one."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._queue: queue.Queue[tuple[str, DomainEventType, int]] = queue.Queue()

    def __call__(
        self, conn: Connection, dom: Domain, event: DomainEventType, detail: int, opaque: Any
    ) -> None:
        self._queue.put((dom.name(), event, detail))

    def expect(self, name: str, event: DomainEventType, detail: int | None = None) -> int:
        """Wait for ``event`` on domain ``name`` (skipping others); return its detail."""
        seen: list[tuple[str, str, int]] = []
        while True:
            try:
                got = self._queue.get(timeout=self.timeout)
            except queue.Empty:
                raise AssertionError(
                    f"no {event.name} event for domain '{name}' within {self.timeout} s; saw {seen}"
                ) from None
            seen.append((got[0], got[1].name, got[2]))
            if got[0] == name and got[1] == event and (detail is None or got[2] == detail):
                return got[2]


class DriverContract:
    """Base class of a driver's contract tests (see the module docstring)."""

    uri: ClassVar[str] = ""
    features: ClassVar[frozenset[str]] = frozenset()
    event_timeout: ClassVar[float] = 5.0
    shutdown_timeout: ClassVar[float] = 30.0
    """Seconds ``shutdown(timeout=...)`` allows the guest; a driver whose test guest ignores
    the shutdown request (firmware only) sets it short, as it then waits it out."""

    def domain_xml(self, name: str) -> str:
        """XML of a domain called ``name`` that this driver can define and start here."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement domain_xml(name) for the driver contract"
        )

    # ------------------------------------------------------------------ fixtures

    @pytest.fixture
    def contract_uri(self) -> str:
        if not self.uri:
            raise AssertionError(
                f"{type(self).__name__} sets neither the 'uri' class attribute nor overrides "
                "the 'contract_uri' fixture"
            )
        return self.uri

    @pytest.fixture
    def conn(self, contract_uri: str) -> Iterator[Connection]:
        with virtkit.open(contract_uri) as connection:
            yield connection

    @pytest.fixture
    def new_name(self, conn: Connection) -> Iterator[Any]:
        """Makes unique domain names; every domain so named is removed after the test."""
        made: list[str] = []

        def make(prefix: str = "contract") -> str:
            made.append(f"{prefix}-{uuid.uuid4().hex[:10]}")
            return made[-1]

        yield make
        for name in made:
            _remove(conn, name)

    @pytest.fixture
    def dom(self, conn: Connection, new_name: Any) -> Domain:
        """A defined, inactive, persistent domain."""
        return conn.define_xml(self.domain_xml(new_name()))

    @pytest.fixture
    def events(self, conn: Connection) -> Iterator[EventLog]:
        log = EventLog(self.event_timeout)
        callback_id = conn.domain_event_register(log)
        yield log
        conn.domain_event_deregister(callback_id)

    def supported(self, conn: Connection, feature: str) -> bool:
        """Whether the driver declares ``feature``. When it does not, check here that each of
        the feature's operations fails with the "no support" error naming driver and operation,
        so the feature's test passes by proving the refusal."""
        assert feature in FEATURES, f"unknown feature {feature!r}; known: {sorted(FEATURES)}"
        if feature in self.features:
            return True
        for hook in sorted(FEATURES[feature]):
            if conn.supports(hook):
                continue  # a driver may implement part of a feature it does not declare
            with pytest.raises(NoSupportError) as info:
                conn._check_call(hook, change=False)
            assert info.value.code == ErrorCode.NO_SUPPORT
            assert conn.get_type() in info.value.message
            assert hook.removeprefix("virtkit_") in info.value.message
        return False

    # ------------------------------------------------------------------ the driver's shape

    def test_declared_features_match_the_hooks(self, conn: Connection) -> None:
        unknown = self.features - FEATURES.keys()
        assert not unknown, (
            f"unknown features declared: {sorted(unknown)}; known: {sorted(FEATURES)}"
        )
        missing = sorted(h for h in REQUIRED_HOOKS if not conn.supports(h))
        assert not missing, f"the {conn.get_type()} driver lacks required hooks {missing}"
        for feature in self.features:
            lacking = sorted(h for h in FEATURES[feature] if not conn.supports(h))
            assert not lacking, f"declared feature {feature!r} lacks hooks {lacking}"

    # ------------------------------------------------------------------ connection

    def test_connection_describes_itself(self, conn: Connection, contract_uri: str) -> None:
        assert conn.get_uri() == contract_uri
        assert conn.get_type()
        assert conn.is_alive() and not conn.is_read_only()
        assert isinstance(conn.get_hostname(), str) and conn.get_hostname()
        caps = conn.get_capabilities()
        assert caps.lstrip().startswith("<capabilities") and "<host>" in caps
        if conn.supports("connect_get_version"):
            assert conn.get_version() >= 0

    def test_closed_connection_refuses_calls(self, contract_uri: str) -> None:
        connection = virtkit.open(contract_uri)
        connection.close()
        assert not connection.is_alive()
        with pytest.raises(VirtError) as info:
            connection.list_all_domains()
        assert info.value.code == ErrorCode.INVALID_CONN

    # ------------------------------------------------------------------ define and lookup

    def test_define_lookup_undefine(self, conn: Connection, new_name: Any) -> None:
        name = new_name()
        dom = conn.define_xml(self.domain_xml(name))
        assert dom.name() == name
        assert dom.is_persistent() and not dom.is_active()
        assert dom.state() == (DomainState.SHUTOFF, dom.state()[1])
        assert dom.id() == -1
        assert conn.lookup_by_name(name) == dom
        assert conn.lookup_by_uuid(dom.uuid()) == dom
        assert conn.lookup_by_uuid_string(dom.uuid_string()) == dom
        assert dom in conn.list_all_domains()
        assert dom in conn.list_all_domains(ListFlags.INACTIVE | ListFlags.PERSISTENT)
        assert dom not in conn.list_all_domains(ListFlags.ACTIVE)
        assert dom not in conn.list_all_domains(ListFlags.TRANSIENT)
        definition = parse_domain(dom.xml_desc())
        assert definition.name == name and definition.uuid == dom.uuid()
        dom.undefine()
        with pytest.raises(NoDomainError) as info:
            conn.lookup_by_name(name)
        assert info.value.code == ErrorCode.NO_DOMAIN
        assert dom not in conn.list_all_domains()

    def test_define_without_uuid_assigns_one(self, conn: Connection, new_name: Any) -> None:
        name = new_name()
        xml = _without_uuid(self.domain_xml(name))
        dom = conn.define_xml(xml)
        assert parse_domain(dom.xml_desc()).uuid == dom.uuid()
        assert conn.lookup_by_uuid(dom.uuid()) == dom

    def test_redefine_replaces_the_config(self, conn: Connection, dom: Domain) -> None:
        xml = _with_uuid(self.domain_xml(dom.name()), dom.uuid())
        updated = xml.replace("</domain>", "<description>redefined</description></domain>", 1)
        again = conn.define_xml(updated)
        assert again == dom
        assert "redefined" in dom.xml_desc(inactive=True)

    def test_define_refuses_a_taken_name(self, conn: Connection, dom: Domain) -> None:
        other = _with_uuid(self.domain_xml(dom.name()), uuid.uuid4())
        with pytest.raises(DomainExistsError) as info:
            conn.define_xml(other)
        assert info.value.code == ErrorCode.DOM_EXIST
        assert dom.name() in info.value.message
        assert len([d for d in conn.list_all_domains() if d.name() == dom.name()]) == 1

    def test_malformed_xml_defines_nothing(self, conn: Connection) -> None:
        before = conn.list_all_domains()
        with pytest.raises(VirtError) as info:
            conn.define_xml("<domain type='test'>\n  <name>broken</name>\n")
        assert info.value.code == ErrorCode.XML_ERROR
        assert "line" in info.value.message
        assert conn.list_all_domains() == before

    def test_missing_domains_raise_no_domain(self, conn: Connection, dom: Domain) -> None:
        lookups: tuple[Callable[[], Domain], ...] = (
            lambda: conn.lookup_by_name("no-such-domain-" + uuid.uuid4().hex),
            lambda: conn.lookup_by_uuid(uuid.uuid4()),
            lambda: conn.lookup_by_id(987654),
        )
        for lookup in lookups:
            with pytest.raises(NoDomainError):
                lookup()
        with pytest.raises(InvalidArgumentError):
            conn.lookup_by_uuid_string("not-a-uuid")
        dom.undefine()
        for call in (dom.state, dom.xml_desc, dom.create, dom.info):
            with pytest.raises(NoDomainError):
                call()

    # ------------------------------------------------------------------ lifecycle

    def test_start_and_destroy(self, conn: Connection, dom: Domain, events: EventLog) -> None:
        dom.create()
        events.expect(dom.name(), DomainEventType.STARTED, DomainEventStartedDetail.BOOTED)
        assert dom.state() == (DomainState.RUNNING, DomainRunningReason.BOOTED)
        assert dom.is_active() and dom.id() > 0
        assert conn.lookup_by_id(dom.id()) == dom
        assert dom in conn.list_all_domains(ListFlags.ACTIVE | ListFlags.RUNNING)
        assert dom not in conn.list_all_domains(ListFlags.SHUTOFF)
        live = dom.xml_desc()
        assert f"id='{dom.id()}'" in live or f'id="{dom.id()}"' in live
        assert "id=" not in dom.xml_desc(inactive=True).split(">", 1)[0]
        info = dom.info()
        assert info.state == DomainState.RUNNING and info.vcpus >= 1 and info.max_memory_kib > 0
        with pytest.raises(OperationInvalidError):
            dom.create()
        dom.destroy()
        events.expect(dom.name(), DomainEventType.STOPPED, DomainEventStoppedDetail.DESTROYED)
        assert dom.state() == (DomainState.SHUTOFF, DomainShutoffReason.DESTROYED)
        assert dom.id() == -1
        with pytest.raises(OperationInvalidError):
            dom.destroy()

    def test_start_paused(self, dom: Domain) -> None:
        dom.create(paused=True)
        assert dom.state()[0] == DomainState.PAUSED
        assert dom in dom.connect().list_all_domains(ListFlags.PAUSED)
        dom.destroy()

    def test_shutdown_with_timeout_stops_the_domain(self, dom: Domain) -> None:
        dom.create()
        start = time.monotonic()
        dom.shutdown(timeout=self.shutdown_timeout)
        assert time.monotonic() - start < self.shutdown_timeout + 10, "the timeout was not kept"
        state, reason = dom.state()
        assert state == DomainState.SHUTOFF
        assert reason in (DomainShutoffReason.SHUTDOWN, DomainShutoffReason.DESTROYED)

    def test_transient_domain_disappears_when_stopped(
        self, conn: Connection, new_name: Any, events: EventLog
    ) -> None:
        name = new_name()
        dom = conn.create_xml(self.domain_xml(name))
        events.expect(name, DomainEventType.STARTED)
        assert dom.is_active() and not dom.is_persistent()
        assert dom in conn.list_all_domains(ListFlags.TRANSIENT)
        dom.destroy()
        with pytest.raises(NoDomainError):
            conn.lookup_by_name(name)

    def test_undefine_active_domain_makes_it_transient(self, conn: Connection, dom: Domain) -> None:
        dom.create()
        dom.undefine()
        assert dom.is_active() and not dom.is_persistent()
        dom.destroy()
        with pytest.raises(NoDomainError):
            dom.state()

    def test_define_and_undefine_emit_events(
        self, conn: Connection, new_name: Any, events: EventLog
    ) -> None:
        name = new_name()
        dom = conn.define_xml(self.domain_xml(name))
        events.expect(name, DomainEventType.DEFINED)
        dom.undefine()
        events.expect(name, DomainEventType.UNDEFINED)

    # ------------------------------------------------------------------ read-only

    def test_read_only_connection_refuses_every_change(
        self, contract_uri: str, dom: Domain, tmp_path: Path
    ) -> None:
        with virtkit.open_read_only(contract_uri) as ro:
            assert ro.is_read_only()
            ro.list_all_domains()
            handle = Domain(ro, dom.ref)
            xml = self.domain_xml("read-only-" + uuid.uuid4().hex[:8])
            changes: dict[str, Callable[[], object]] = {
                "define_xml": lambda: ro.define_xml(xml),
                "create_xml": lambda: ro.create_xml(xml),
                "restore": lambda: ro.restore(str(tmp_path / "image")),
                "create": handle.create,
                "shutdown": handle.shutdown,
                "destroy": handle.destroy,
                "reboot": handle.reboot,
                "reset": handle.reset,
                "suspend": handle.suspend,
                "resume": handle.resume,
                "undefine": handle.undefine,
                "set_autostart": lambda: handle.set_autostart(True),
                "save": lambda: handle.save(tmp_path / "image"),
                "managed_save": handle.managed_save,
                "managed_save_remove": handle.managed_save_remove,
                "snapshot_create_xml": lambda: handle.snapshot_create_xml(
                    "<domainsnapshot><name>ro</name></domainsnapshot>"
                ),
                "abort_job": handle.abort_job,
            }
            for what, change in changes.items():
                with pytest.raises(ReadOnlyError) as info:
                    change()
                assert info.value.code == ErrorCode.OPERATION_DENIED, what
        assert dom.state()[0] == DomainState.SHUTOFF
        assert not (tmp_path / "image").exists()

    # ------------------------------------------------------------------ optional: suspend

    def test_suspend_and_resume(self, dom: Domain, events: EventLog) -> None:
        if not self.supported(dom.connect(), "suspend"):
            return
        dom.create()
        dom.suspend()
        events.expect(dom.name(), DomainEventType.SUSPENDED)
        assert dom.state() == (DomainState.PAUSED, DomainPausedReason.USER)
        dom.resume()
        events.expect(dom.name(), DomainEventType.RESUMED)
        assert dom.state() == (DomainState.RUNNING, DomainRunningReason.UNPAUSED)
        with pytest.raises(OperationInvalidError):
            dom.resume()
        dom.destroy()
        with pytest.raises(OperationInvalidError):
            dom.suspend()

    # ------------------------------------------------------------------ optional: autostart

    def test_autostart(self, conn: Connection, dom: Domain) -> None:
        if not self.supported(dom.connect(), "autostart"):
            return
        assert not dom.autostart()
        dom.set_autostart(True)
        assert dom.autostart()
        assert dom in conn.list_all_domains(ListFlags.AUTOSTART)
        dom.set_autostart(False)
        assert dom in conn.list_all_domains(ListFlags.NO_AUTOSTART)

    # ------------------------------------------------------------------ optional: rename

    def test_rename(self, conn: Connection, dom: Domain, new_name: Any) -> None:
        if not self.supported(dom.connect(), "rename"):
            return
        uuid, old_name, renamed = dom.uuid(), dom.name(), new_name()
        other = conn.define_xml(self.domain_xml(new_name()))
        with pytest.raises(OperationInvalidError, match="already exists"):
            dom.rename(other.name())
        dom.rename(renamed)
        assert (dom.name(), dom.uuid()) == (renamed, uuid)
        assert conn.lookup_by_uuid(uuid).name() == renamed
        assert f"<name>{renamed}</name>" in dom.xml_desc(inactive=True)
        with pytest.raises(NoDomainError):
            conn.lookup_by_name(old_name)
        dom.create()
        with pytest.raises(OperationInvalidError, match="active"):
            dom.rename(old_name)
        assert dom.name() == renamed
        dom.destroy()
        other.undefine()

    # ------------------------------------------------------------------ optional: save

    def test_save_and_restore(self, conn: Connection, dom: Domain, tmp_path: Path) -> None:
        if not self.supported(dom.connect(), "save"):
            return
        image = tmp_path / "saved.img"
        with pytest.raises(OperationInvalidError):
            dom.save(image)
        assert not image.exists()
        dom.create()
        dom.save(image)
        assert image.exists()
        assert dom.state() == (DomainState.SHUTOFF, DomainShutoffReason.SAVED)
        restored = conn.restore(str(image))
        assert restored == dom
        assert dom.state() == (DomainState.RUNNING, DomainRunningReason.RESTORED)
        dom.destroy()

    # ------------------------------------------------------------------ optional: managed save

    def test_managed_save(self, conn: Connection, dom: Domain) -> None:
        if not self.supported(dom.connect(), "managed_save"):
            return
        dom.create()
        dom.managed_save()
        assert dom.state() == (DomainState.SHUTOFF, DomainShutoffReason.SAVED)
        assert dom.has_managed_save_image()
        assert dom in conn.list_all_domains(ListFlags.MANAGEDSAVE)
        with pytest.raises(OperationInvalidError):
            dom.undefine()
        dom.create()
        assert dom.state() == (DomainState.RUNNING, DomainRunningReason.RESTORED)
        assert not dom.has_managed_save_image()
        dom.managed_save()
        dom.managed_save_remove()
        assert not dom.has_managed_save_image()
        dom.create()
        assert dom.state() == (DomainState.RUNNING, DomainRunningReason.BOOTED)
        dom.destroy()

    # ------------------------------------------------------------------ optional: snapshots

    def test_snapshot_tree_and_current(self, conn: Connection, dom: Domain) -> None:
        if not self.supported(dom.connect(), "snapshots"):
            return
        dom.create()
        first = dom.snapshot_create_xml(_snapshot("first"))
        second = dom.snapshot_create_xml(_snapshot("second"))
        assert dom.snapshot_current() == second and second.is_current()
        assert second.get_parent() == first
        with pytest.raises(NoSnapshotError):
            first.get_parent()
        assert dom.list_all_snapshots() == [first, second]
        assert dom.list_all_snapshots(SnapFlags.ROOTS) == [first]
        assert dom.list_all_snapshots(SnapFlags.LEAVES) == [second]
        assert first.list_all_children() == [second]
        assert dom in conn.list_all_domains(ListFlags.HAS_SNAPSHOT)
        parsed = parse_snapshot(second.get_xml_desc())
        assert parsed.name == "second" and parsed.parent == "first" and parsed.state == "running"
        with pytest.raises(NoSnapshotError):
            dom.snapshot_lookup_by_name("no-such-snapshot")
        with pytest.raises(OperationInvalidError):
            dom.undefine()
        dom.destroy()
        dom.undefine_flags(snapshots_metadata=True)
        with pytest.raises(NoDomainError):
            dom.state()

    def test_snapshot_revert(self, dom: Domain, events: EventLog) -> None:
        if not self.supported(dom.connect(), "snapshots"):
            return
        offline = dom.snapshot_create_xml(_snapshot("offline"))
        dom.create()
        online = dom.snapshot_create_xml(_snapshot("online"))
        assert parse_snapshot(offline.get_xml_desc()).state == "shutoff"
        dom.revert_to_snapshot(offline)
        events.expect(dom.name(), DomainEventType.STOPPED, DomainEventStoppedDetail.FROM_SNAPSHOT)
        assert dom.state() == (DomainState.SHUTOFF, DomainShutoffReason.FROM_SNAPSHOT)
        assert dom.snapshot_current() == offline
        dom.revert_to_snapshot(online)
        events.expect(dom.name(), DomainEventType.STARTED, DomainEventStartedDetail.FROM_SNAPSHOT)
        assert dom.state() == (DomainState.RUNNING, DomainRunningReason.FROM_SNAPSHOT)
        assert dom.snapshot_current() == online
        dom.revert_to_snapshot(offline, paused=True)
        assert dom.state() == (DomainState.PAUSED, DomainPausedReason.FROM_SNAPSHOT)
        with pytest.raises(InvalidArgumentError):
            dom.revert_to_snapshot(online, running=True, paused=True)
        dom.destroy()
        dom.undefine_flags(snapshots_metadata=True)

    def test_snapshot_delete(self, dom: Domain) -> None:
        if not self.supported(dom.connect(), "snapshots"):
            return
        root = dom.snapshot_create_xml(_snapshot("root"))
        middle = dom.snapshot_create_xml(_snapshot("middle"))
        leaf = dom.snapshot_create_xml(_snapshot("leaf"))
        middle.delete()
        assert leaf.get_parent() == root
        assert dom.snapshot_current() == leaf
        leaf.delete()
        assert dom.snapshot_current() == root
        child = dom.snapshot_create_xml(_snapshot("child"))
        dom.snapshot_create_xml(_snapshot("grandchild"))
        root.delete(children_only=True)
        assert dom.list_all_snapshots() == [root]
        assert dom.snapshot_current() == root
        with pytest.raises(NoSnapshotError):
            child.get_xml_desc()
        root.delete(children=True)
        assert dom.list_all_snapshots() == []
        assert not dom.has_current_snapshot()
        with pytest.raises(NoSnapshotError):
            dom.snapshot_current()


def _snapshot(name: str) -> str:
    return f"<domainsnapshot><name>{name}</name></domainsnapshot>"


def _without_uuid(xml: str) -> str:
    root = parse_domain(xml).tree()
    for element in root.findall("uuid"):
        root.remove(element)
    return str(etree.tostring(root, encoding="unicode"))


def _with_uuid(xml: str, value: uuid.UUID) -> str:
    return parse_domain(xml).with_identity(uuid=value).to_xml()


def _remove(conn: Connection, name: str) -> None:
    """Take a domain a test made off the hypervisor, whatever state the test left it in."""
    if not conn.is_alive():
        return
    try:
        dom = conn.lookup_by_name(name)
    except NoDomainError:
        return
    if dom.is_active():
        dom.destroy()
    with contextlib.suppress(NoDomainError):  # a transient domain went with destroy()
        dom.undefine_flags(
            DomainUndefineFlags.SNAPSHOTS_METADATA | DomainUndefineFlags.MANAGED_SAVE
        )
