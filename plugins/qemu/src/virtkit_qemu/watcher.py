"""Following running domains through QMP events, without a daemon.

Each QEMU has an event monitor socket that one client at a time may hold. Every driver instance
tries to attach to the event socket of each active domain it looks at; the one that gets it
turns QEMU's events into status changes and lifecycle events: ``STOP``/``RESUME`` (paused or
resumed by someone else), ``SHUTDOWN`` from the guest (QEMU runs with ``-no-shutdown``, so the
watcher stops it and records *shut off, shutdown*, or resets it for a pending reboot), and the end
of the connection (QEMU exited: recorded by :meth:`QemuHost.reconcile`).

Events are handled on one worker thread, never on the QMP loop, because handling takes the
store's lock, which other threads hold while they wait on the loop. The loop only holds back a
pause or resume for a moment and drops it if this process has recorded it by then (its own
suspend or resume), without the lock.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import attrs
from virtkit.constants import (
    DomainEventResumedDetail,
    DomainEventShutdownDetail,
    DomainEventSuspendedDetail,
    DomainEventType,
    DomainPausedReason,
    DomainRunningReason,
    DomainShutoffReason,
    DomainState,
)
from virtkit.records import DomainRef

from virtkit_qemu import process, qmp
from virtkit_qemu.host import QemuHost
from virtkit_qemu.qmp import Monitor, QmpError
from virtkit_qemu.status import DomainStatus

if TYPE_CHECKING:
    import asyncio

    from qemu.qmp import QMPClient

log = logging.getLogger(__name__)

ATTACH_TIMEOUT = 0.5
"""Seconds to wait for the event monitor's greeting; longer means another process holds it."""
RETRY_AFTER = 5.0
EXIT_WAIT = 5.0
"""Seconds to wait for a QEMU whose event socket closed to finish exiting."""
STATE_EVENT_DELAY = 0.05
"""Seconds a pause or resume event waits on the QMP loop before the worker is woken for it: by
then the operation of this process that caused it (a suspend, a resume) has usually recorded
it, and the event needs no handling (waking the worker in the middle of that operation cost
it about 150 µs here)."""
SESSION_WAIT = 0.05
"""Seconds a command waits for an attach in flight (a domain just started, say) before it
opens a monitor connection of its own; only an event socket held elsewhere makes it wait that
long."""


class EventWatcher:
    def __init__(self, host: QemuHost) -> None:
        self.host = host
        self._tasks: dict[tuple[int, int], asyncio.Future[None]] = {}
        self._failed: dict[tuple[int, int], float] = {}
        self._sessions: dict[tuple[int, int], QMPClient] = {}
        self._settled: dict[tuple[int, int], threading.Event] = {}
        """Set once the attach to a QEMU's event socket has succeeded or failed."""
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="virtkit-qemu-events")
        self._closed = False
        host.on_active.append(self.watch)
        host.shared_session = self.session

    def watch(self, status: DomainStatus) -> None:
        """Attach to ``status``'s event socket unless already attached (or recently refused)."""
        if self._closed or status.pid is None or status.runtime_dir is None:
            return
        key = (status.pid, status.started or 0)
        task = self._tasks.get(key)
        if task is not None and not task.done():
            return
        if time.monotonic() - self._failed.get(key, -RETRY_AFTER) < RETRY_AFTER:
            return
        import asyncio  # (at first use: see virtkit_qemu.qmp)

        paths = self.host.store.runtime_paths(status.uuid)
        self._settled[key] = threading.Event()
        self._tasks[key] = asyncio.run_coroutine_threadsafe(
            self._follow(status, str(paths.events), key), qmp.loop()
        )  # type: ignore[assignment]

    def session(self, status: DomainStatus) -> QMPClient | None:
        """The connected event session of ``status``'s QEMU, if this watcher holds it (or gets
        it within :data:`SESSION_WAIT`). Never call it on the QMP loop."""
        from qemu.qmp import Runstate

        key = (status.pid or 0, status.started or 0)
        settled = self._settled.get(key)
        if settled is not None:
            settled.wait(SESSION_WAIT)
        client = self._sessions.get(key)
        return client if client is not None and client.runstate == Runstate.RUNNING else None

    def close(self) -> None:
        self._closed = True
        for task in list(self._tasks.values()):
            task.cancel()
        self._worker.shutdown(wait=True, cancel_futures=False)

    async def _follow(self, status: DomainStatus, path: str, key: tuple[int, int]) -> None:
        import asyncio

        from qemu.qmp import QMPClient, Runstate

        client = QMPClient(f"{status.name}-events")
        try:
            await asyncio.wait_for(client.connect(path), ATTACH_TIMEOUT)
        except Exception:  # busy (another process holds it) or gone
            self._failed[key] = time.monotonic()
            with contextlib.suppress(Exception):
                await client.disconnect()
            return
        else:
            self._sessions[key] = client
        finally:
            self._settled.pop(key, threading.Event()).set()
        self._submit(self._attached, status)
        waiting: set[asyncio.Future[Any]] = set()
        try:
            while client.runstate == Runstate.RUNNING:
                get = asyncio.ensure_future(client.events.get())
                changed = asyncio.ensure_future(client.runstate_changed())
                waiting = {get, changed}
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                for future in waiting - done:
                    future.cancel()
                if get in done:
                    self._dispatch(status, get.result())
        except Exception:
            log.exception("following the QMP events of domain %s failed", status.name)
        finally:
            self._sessions.pop(key, None)
            for future in waiting:
                future.cancel()
            with contextlib.suppress(Exception):  # the EOF that ended the session
                await client.disconnect()
            if not self._closed:
                self._submit(self._on_exit, status)

    def _dispatch(self, status: DomainStatus, event: Mapping[str, Any]) -> None:
        """Hand ``event`` to the worker; a pause or resume after :data:`STATE_EVENT_DELAY`, and
        only if this process has not recorded it by then (on the QMP loop)."""
        if event["event"] not in ("STOP", "RESUME"):
            self._submit(self._on_event, status, event)
            return

        def unless_recorded() -> None:
            if not self._reported_here(status, _event_time(event)):
                self._submit(self._on_event, status, event)

        qmp.loop().call_later(STATE_EVENT_DELAY, unless_recorded)

    def _submit(self, fn: Any, *args: Any) -> None:
        if not self._closed:
            self._worker.submit(self._guarded, fn, *args)

    @staticmethod
    def _guarded(fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("handling a QEMU event failed")

    # ------------------------------------------------------------------ handlers (worker thread)

    def _current(self, status: DomainStatus) -> DomainStatus | None:
        current = self.host.store.status(status.name)
        if current is None or current.pid != status.pid or current.started != status.started:
            return None
        return current

    def _attached(self, status: DomainStatus) -> None:
        """A guest may have powered off while nobody watched: QEMU then waits in 'shutdown'."""
        current = self._current(status)
        if current is None:
            return
        self.host.seen_state.setdefault(current.uuid, current.state)
        try:
            with self.host.quick_monitor(status) as mon:  # the session just opened
                state = mon.execute("query-status")["status"]
        except QmpError:
            return  # QEMU went away meanwhile; the end of the event session records it
        if state == "shutdown":
            self._guest_shutdown(status)

    def _on_event(self, status: DomainStatus, event: Mapping[str, Any]) -> None:
        name = event["event"]
        if name == "SHUTDOWN" and event.get("data", {}).get("guest"):
            self._guest_shutdown(status)
        elif name in ("STOP", "RESUME"):
            self._state_change(status, event)

    def _on_exit(self, status: DomainStatus) -> None:
        # The socket closes while the kernel tears the process down: wait until it is gone.
        if status.pid is not None and status.started is not None:
            process.wait_gone(status.pid, status.started, EXIT_WAIT)
        self.host.reconcile(status.name)

    def _state_change(self, status: DomainStatus, event: Mapping[str, Any]) -> None:
        """Record a pause or resume nobody recorded (the guest, QEMU itself), then report any
        change of the recorded state this connection has not reported yet (made by another
        process). An event older than the status's last write is already accounted for."""
        when = _event_time(event)
        store = self.host.store
        if self._reported_here(status, when):
            return
        with store.lock():
            current = self._current(status)
            if current is None:
                return
            if when > current.changed_at:
                if event["event"] == "STOP" and current.state == DomainState.RUNNING:
                    current = attrs.evolve(
                        current, state=DomainState.PAUSED, reason=int(DomainPausedReason.UNKNOWN)
                    )
                    store.write_status(current)
                elif event["event"] == "RESUME" and current.state == DomainState.PAUSED:
                    current = attrs.evolve(
                        current, state=DomainState.RUNNING, reason=int(DomainRunningReason.UNPAUSED)
                    )
                    store.write_status(current)
        self._report(current)

    def _reported_here(self, status: DomainStatus, when: float) -> bool:
        """Whether this process wrote a status of ``status``'s QEMU after the event at ``when``
        (its own suspend or resume, say) and reported that status's state: the event is then
        accounted for, and :meth:`_state_change` is spared the lock and the read. A change made
        by another process since comes with an event of its own, later than that status."""
        mine = self.host.store.written.get(status.name)
        return (
            mine is not None
            and (mine.pid, mine.started) == (status.pid, status.started)
            and when <= mine.changed_at
            and self.host.seen_state.get(status.uuid) == mine.state
        )

    def _report(self, current: DomainStatus) -> None:
        seen = self.host.seen_state.get(current.uuid)
        if current.state not in (DomainState.RUNNING, DomainState.PAUSED) or seen == current.state:
            return
        self.host.seen_state[current.uuid] = current.state
        ref = DomainRef(name=current.name, uuid=current.uuid)
        if current.state == DomainState.PAUSED:
            self.host.ctx.emit_event(
                ref, DomainEventType.SUSPENDED, int(DomainEventSuspendedDetail.PAUSED)
            )
        else:
            self.host.ctx.emit_event(
                ref, DomainEventType.RESUMED, int(DomainEventResumedDetail.UNPAUSED)
            )

    def _guest_shutdown(self, status: DomainStatus) -> None:
        """The guest powered off (or asked to reboot, see :func:`lifecycle.reboot`)."""
        store = self.host.store
        with store.lock():
            current = self._current(status)
            if current is None:
                return
            if current.rebooting:
                with Monitor(store.runtime_paths(status.uuid).qmp, name=status.name) as mon:
                    mon.execute("system_reset")
                    mon.execute("cont")
                store.write_status(attrs.evolve(current, rebooting=False))
                return
        ref = DomainRef(name=status.name, uuid=status.uuid)
        self.host.ctx.emit_event(
            ref, DomainEventType.SHUTDOWN, int(DomainEventShutdownDetail.GUEST)
        )
        self.host.stop_and_record(status, DomainShutoffReason.SHUTDOWN)


def _event_time(event: Mapping[str, Any]) -> float:
    """When QEMU emitted ``event``, in seconds since the epoch."""
    stamp = event.get("timestamp", {})
    return float(stamp.get("seconds", 0) + stamp.get("microseconds", 0) / 1e6)
