"""Lifecycle event delivery: drivers emit from any thread; callbacks run on one dispatcher
thread."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from virtkit.constants import DomainEventType
from virtkit.records import DomainRef

if TYPE_CHECKING:
    import queue

    from virtkit.connection import Connection
    from virtkit.domain import Domain

    EventQueue = queue.SimpleQueue[tuple[DomainRef, DomainEventType, int] | None]
    """Events on their way to the dispatcher thread; ``None`` stops it."""

log = logging.getLogger(__name__)

LifecycleCallback = Callable[["Connection", "Domain", DomainEventType, int, Any], None]
"""``callback(conn, dom, event, detail, opaque)``, as libvirt-python calls lifecycle callbacks."""


class _Registration(NamedTuple):  # a tuple class is built a few times faster than attrs'
    callback: LifecycleCallback
    domain_uuid: Any | None
    opaque: Any


class EventDispatcher:
    """Queues events and calls the registered callbacks in order, off the driver's threads."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self._callbacks: dict[int, _Registration] = {}
        self._ids = itertools.count(1)
        self._queue: EventQueue
        self._thread: threading.Thread | None = None

    def register(self, callback: LifecycleCallback, domain_uuid: Any | None, opaque: Any) -> int:
        with self._lock:
            callback_id = next(self._ids)
            self._callbacks[callback_id] = _Registration(callback, domain_uuid, opaque)
            if self._thread is None:
                import queue  # only a connection with listeners needs one (and its import)

                self._queue = queue.SimpleQueue()
                self._thread = threading.Thread(
                    target=self._run, args=(self._queue,), name="virtkit-events", daemon=True
                )
                self._thread.start()
        return callback_id

    def deregister(self, callback_id: int) -> None:
        with self._lock:
            if self._callbacks.pop(callback_id, None) is None:
                from virtkit.errors import InvalidArgumentError

                raise InvalidArgumentError(f"no event callback with id {callback_id}")

    def emit(self, dom: DomainRef, event: DomainEventType, detail: int) -> None:
        """Queue an event; returns at once (drivers call this while holding their locks)."""
        if self._thread is not None:
            self._queue.put((dom, event, detail))

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is not None:
                self._queue.put(None)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _run(self, events: EventQueue) -> None:
        from virtkit.domain import Domain

        while (item := events.get()) is not None:
            ref, event, detail = item
            with self._lock:
                targets = [
                    r
                    for r in self._callbacks.values()
                    if r.domain_uuid is None or r.domain_uuid == ref.uuid
                ]
            dom = Domain(self._conn, ref)
            for reg in targets:
                try:
                    reg.callback(self._conn, dom, event, detail, reg.opaque)
                except Exception:
                    log.exception("event callback %r failed", reg.callback)
