"""Lifecycle events: what the test driver emits, and how the dispatcher delivers them."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import virtkit
from virtkit.connection import Connection
from virtkit.constants import (
    DomainEventDefinedDetail,
    DomainEventResumedDetail,
    DomainEventStartedDetail,
    DomainEventStoppedDetail,
    DomainEventSuspendedDetail,
    DomainEventType,
    DomainEventUndefinedDetail,
)
from virtkit.domain import Domain
from virtkit.errors import InvalidArgumentError

XML = (
    "<domain type='test'><name>{name}</name><memory>65536</memory>"
    "<os><type>hvm</type></os></domain>"
)
E = DomainEventType
Event = tuple[str, DomainEventType, int]


@pytest.fixture
def uri(tmp_path: Path) -> str:
    path = tmp_path / "node.xml"
    path.write_text("<node/>")
    return f"test://{path}"


@pytest.fixture
def conn(uri: str) -> Iterator[Connection]:
    with virtkit.open(uri) as connection:
        yield connection


class Recorder:
    def __init__(self) -> None:
        self.events: queue.Queue[Event] = queue.Queue()
        self.threads: set[str] = set()

    def __call__(
        self, conn: Connection, dom: Domain, event: DomainEventType, detail: int, opaque: Any
    ) -> None:
        self.threads.add(threading.current_thread().name)
        self.events.put((dom.name(), event, detail))

    def take(self, count: int) -> list[Event]:
        return [self.events.get(timeout=5) for _ in range(count)]

    def quiet(self) -> bool:
        try:
            extra = self.events.get(timeout=0.2)
        except queue.Empty:
            return True
        raise AssertionError(f"unexpected event {extra}")


def test_lifecycle_emits_libvirts_events(conn: Connection) -> None:
    seen = Recorder()
    conn.domain_event_register(seen)
    dom = conn.define_xml(XML.format(name="a"))
    conn.define_xml(dom.xml_desc())
    dom.create()
    dom.suspend()
    dom.resume()
    dom.shutdown()
    dom.create(paused=True)
    dom.destroy()
    dom.managed_save_remove()
    dom.undefine()
    assert seen.take(10) == [
        ("a", E.DEFINED, DomainEventDefinedDetail.ADDED),
        ("a", E.DEFINED, DomainEventDefinedDetail.UPDATED),
        ("a", E.STARTED, DomainEventStartedDetail.BOOTED),
        ("a", E.SUSPENDED, DomainEventSuspendedDetail.PAUSED),
        ("a", E.RESUMED, DomainEventResumedDetail.UNPAUSED),
        ("a", E.STOPPED, DomainEventStoppedDetail.SHUTDOWN),
        ("a", E.STARTED, DomainEventStartedDetail.BOOTED),
        ("a", E.SUSPENDED, DomainEventSuspendedDetail.PAUSED),
        ("a", E.STOPPED, DomainEventStoppedDetail.DESTROYED),
        ("a", E.UNDEFINED, DomainEventUndefinedDetail.REMOVED),
    ]
    assert seen.quiet()
    assert seen.threads == {"virtkit-events"}


def test_rename_undefines_the_old_name_and_defines_the_new(conn: Connection) -> None:
    seen = Recorder()
    dom = conn.define_xml(XML.format(name="old"))
    conn.domain_event_register(seen)
    dom.rename("new")
    assert seen.take(2) == [
        ("old", E.UNDEFINED, DomainEventUndefinedDetail.RENAMED),
        ("new", E.DEFINED, DomainEventDefinedDetail.RENAMED),
    ]
    assert seen.quiet()


def test_save_restore_and_snapshot_events(conn: Connection, tmp_path: Path) -> None:
    seen = Recorder()
    dom = conn.define_xml(XML.format(name="b"))
    dom.create()
    conn.domain_event_register(seen)
    dom.managed_save()
    dom.create()
    dom.save(tmp_path / "image")
    conn.restore(str(tmp_path / "image"))
    snap = dom.snapshot_create_xml("<domainsnapshot><name>s</name></domainsnapshot>", halt=True)
    dom.revert_to_snapshot(snap)
    assert seen.take(6) == [
        ("b", E.STOPPED, DomainEventStoppedDetail.SAVED),
        ("b", E.STARTED, DomainEventStartedDetail.RESTORED),
        ("b", E.STOPPED, DomainEventStoppedDetail.SAVED),
        ("b", E.STARTED, DomainEventStartedDetail.RESTORED),
        ("b", E.STOPPED, DomainEventStoppedDetail.FROM_SNAPSHOT),
        ("b", E.STARTED, DomainEventStartedDetail.FROM_SNAPSHOT),
    ]
    dom.suspend()
    dom.revert_to_snapshot(snap, running=True)
    assert seen.take(2) == [
        ("b", E.SUSPENDED, DomainEventSuspendedDetail.PAUSED),
        ("b", E.RESUMED, DomainEventResumedDetail.FROM_SNAPSHOT),
    ]
    assert seen.quiet()


def test_registration_for_one_domain(conn: Connection) -> None:
    first = conn.define_xml(XML.format(name="first"))
    second = conn.define_xml(XML.format(name="second"))
    only_first, everything = Recorder(), Recorder()
    conn.domain_event_register(only_first, first)
    conn.domain_event_register(everything)
    second.create()
    first.create()
    assert everything.take(2) == [
        ("second", E.STARTED, DomainEventStartedDetail.BOOTED),
        ("first", E.STARTED, DomainEventStartedDetail.BOOTED),
    ]
    assert only_first.take(1) == [("first", E.STARTED, DomainEventStartedDetail.BOOTED)]
    assert only_first.quiet()


def test_deregistered_callbacks_hear_nothing(conn: Connection) -> None:
    seen = Recorder()
    callback_id = conn.domain_event_register(seen)
    conn.domain_event_deregister(callback_id)
    conn.define_xml(XML.format(name="silent"))
    assert seen.quiet()
    with pytest.raises(InvalidArgumentError, match=f"no event callback with id {callback_id}"):
        conn.domain_event_deregister(callback_id)


def test_a_failing_callback_does_not_stop_delivery(conn: Connection) -> None:
    seen = Recorder()

    def broken(*args: Any) -> None:
        raise RuntimeError("callback bug")

    conn.domain_event_register(broken)
    conn.domain_event_register(seen)
    conn.define_xml(XML.format(name="one"))
    conn.define_xml(XML.format(name="two"))
    assert [name for name, _, _ in seen.take(2)] == ["one", "two"]


def test_every_connection_of_the_default_node_hears_its_events() -> None:
    with (
        virtkit.open("test:///default") as actor,
        virtkit.open_read_only("test:///default") as observer,
    ):
        seen = Recorder()
        observer.domain_event_register(seen)
        dom = actor.define_xml(XML.format(name="observed-events"))
        dom.undefine()
        assert seen.take(2) == [
            ("observed-events", E.DEFINED, DomainEventDefinedDetail.ADDED),
            ("observed-events", E.UNDEFINED, DomainEventUndefinedDetail.REMOVED),
        ]


def test_closed_connections_stop_hearing(uri: str) -> None:
    with virtkit.open("test:///default") as actor:
        observer = virtkit.open("test:///default")
        seen = Recorder()
        observer.domain_event_register(seen)
        observer.close()
        actor.define_xml(XML.format(name="after-close")).undefine()
        assert seen.quiet()


def test_a_connection_dropped_without_close_is_not_kept_alive() -> None:
    import gc
    import weakref

    dropped = virtkit.open("test:///default")
    gone = weakref.ref(dropped)
    del dropped
    gc.collect()
    assert gone() is None
    with virtkit.open("test:///default") as actor:
        actor.define_xml(XML.format(name="after-drop")).undefine()
