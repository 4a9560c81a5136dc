"""Starting one QEMU: spawn it daemonized, stopped (``-S``) when steps must happen before its
CPUs run (plug taps, receive a saved image, load a snapshot) or it is to stay paused, run them,
then ``cont``; a plain boot runs from the start, with no ``cont`` to wait for.

A launch either returns a running QEMU or raises having left no process, socket or pidfile.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs
from virtkit.errors import OperationFailedError, VirtError
from virtkit.records import Progress, ProgressCallback

from virtkit_qemu import process
from virtkit_qemu.argv import QemuCommand
from virtkit_qemu.qmp import Monitor
from virtkit_qemu.store import RuntimePaths

PreRunStep = Callable[[Monitor], None]
"""Something done through QMP while the new QEMU's CPUs are still stopped (part B's
``loadvm``, for example). Raising fails the launch."""

LOG_TAIL = 2000


@attrs.frozen(kw_only=True)
class Incoming:
    """A migration stream for the new QEMU to load: ``fd`` positioned at its first byte, or
    ``None`` for a stream from another host, which a pre-run step starts with ``migrate-incoming``
    (the QEMU then waits for it, paused)."""

    fd: int | None
    size: int
    progress: ProgressCallback | None = None


@attrs.frozen(kw_only=True)
class LaunchPlan:
    """Everything one start needs.

    :ivar command: the translated domain XML.
    :ivar paused: leave the CPUs stopped once the steps are done.
    :ivar incoming: restore from a saved image instead of booting.
    :ivar steps: run in order before the CPUs start (after ``incoming`` has been loaded).
    :ivar spawned: told of the new QEMU as soon as it runs, before anything else is done
        through its monitor (the event watcher attaches then); raising fails the launch.
    :ivar inspect: run last through the monitor, the CPUs started or not (to read what QEMU
        chose); raising fails the launch.
    """

    name: str
    command: QemuCommand
    paths: RuntimePaths
    log: Path
    paused: bool = False
    incoming: Incoming | None = None
    steps: Sequence[PreRunStep] = ()
    spawned: Callable[[RunningQemu], None] | None = None
    inspect: Callable[[Monitor], None] | None = None

    @property
    def stopped(self) -> bool:
        """Whether QEMU starts with its CPUs stopped: something must happen before they run,
        or they are to stay stopped."""
        return self.paused or self.incoming is not None or bool(self.steps or self.command.taps)


@attrs.frozen(kw_only=True)
class RunningQemu:
    pid: int
    started: int
    paths: RuntimePaths


def runtime_args(paths: RuntimePaths, *, incoming: bool, stopped: bool) -> list[str]:
    """Monitors, pidfile and daemon mode; ``-no-shutdown`` so a guest power-off leaves QEMU
    for the driver to reap and record (see :mod:`virtkit_qemu.watcher`)."""
    args = [
        *(["-S"] if stopped else []),
        "-daemonize",
        "-no-shutdown",
        "-msg",
        "timestamp=on",
        "-pidfile",
        str(paths.pidfile),
        "-chardev",
        f"socket,id=monitor,path={paths.qmp},server=on,wait=off",
        "-mon",
        "chardev=monitor,mode=control",
        "-chardev",
        f"socket,id=events,path={paths.events},server=on,wait=off",
        "-mon",
        "chardev=events,mode=control",
    ]
    if incoming:
        args += ["-incoming", "defer"]
    return args


def launch(plan: LaunchPlan) -> RunningQemu:
    """Start QEMU per ``plan``; on failure nothing of it is left and the error says why."""
    folder = plan.paths.folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, mode=0o700)
    argv = plan.command.argv + runtime_args(
        plan.paths, incoming=plan.incoming is not None, stopped=plan.stopped
    )
    log_start = plan.log.stat().st_size if plan.log.exists() else 0
    try:
        with open(plan.log, "ab") as log:
            log.write(
                f"{time.strftime('%F %T')} starting: {subprocess.list2cmdline(argv)}\n".encode()
            )
            log.flush()
            result = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                check=False,
            )
    except OSError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise OperationFailedError(f"cannot run {argv[0]} for domain '{plan.name}': {exc}") from exc
    if result.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise OperationFailedError(
            f"QEMU failed to start domain '{plan.name}' (exit status {result.returncode}): "
            f"{_log_since(plan.log, log_start)}"
        )
    pid = int(plan.paths.pidfile.read_text().strip())
    started = process.start_time(pid)
    qemu = RunningQemu(pid=pid, started=started or 0, paths=plan.paths)
    try:
        if started is None:
            raise OperationFailedError(
                f"QEMU of domain '{plan.name}' exited right after starting: "
                f"{_log_since(plan.log, log_start)}"
            )
        if plan.spawned is not None:
            plan.spawned(qemu)
        # lazy: a plain boot of a domain without ptys sends no command at all
        with Monitor(plan.paths.qmp, name=plan.name, lazy=True) as mon:
            for ifname, bridge in plan.command.taps:
                plug_tap(ifname, bridge)
            if plan.incoming is not None and plan.incoming.fd is not None:
                receive(mon, plan.incoming, plan.name)
            for step in plan.steps:
                step(mon)
            if plan.stopped and not plan.paused:
                mon.execute("cont")
            if plan.inspect is not None:
                plan.inspect(mon)
    except BaseException as exc:
        kill(qemu)
        if isinstance(exc, VirtError):
            raise
        raise OperationFailedError(
            f"starting domain '{plan.name}' failed: {exc}; {_log_since(plan.log, log_start)}"
        ) from exc
    return qemu


def kill(qemu: RunningQemu, grace: float = 0.15) -> None:
    """Stop QEMU (SIGTERM, then SIGKILL after ``grace``) and remove its sockets and pidfile."""
    process.terminate(qemu.pid, qemu.started, grace)
    shutil.rmtree(qemu.paths.folder, ignore_errors=True)


def plug_tap(ifname: str, bridge: str | None) -> None:
    """Bring the tap QEMU created up, enslaved to ``bridge`` when there is one."""
    command = ["ip", "link", "set", "dev", ifname, "up"]
    if bridge:
        command += ["master", bridge]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise OperationFailedError(
            f"cannot plug tap {ifname} into bridge {bridge}: {done.stderr.strip()}"
        )


def receive(mon: Monitor, incoming: Incoming, name: str) -> None:
    """Load a migration stream from ``incoming.fd`` into the stopped QEMU."""
    assert incoming.fd is not None
    start = os.lseek(incoming.fd, 0, os.SEEK_CUR)
    mon.send_fd(incoming.fd, "incoming")
    mon.execute("migrate-incoming", uri="fd:incoming")
    while True:
        info = mon.execute("query-migrate")
        status = info.get("status")
        if incoming.progress is not None:
            # QEMU reads through a duplicate of our descriptor: the offset is shared.
            done = os.lseek(incoming.fd, 0, os.SEEK_CUR) - start
            incoming.progress(Progress(operation="restore", processed=done, total=incoming.size))
        if status == "completed":
            return
        if status in ("failed", "cancelled"):
            raise OperationFailedError(
                f"QEMU could not load the saved state of domain '{name}': "
                f"{info.get('error-desc', status)}"
            )
        time.sleep(0.01)


def _log_since(log: Path, offset: int) -> str:
    try:
        with open(log, "rb") as fh:
            fh.seek(offset)
            text = fh.read().decode(errors="replace")
    except OSError:
        return "(no log)"
    lines = [line for line in text.splitlines() if "starting:" not in line and line.strip()]
    return " ".join(lines)[-LOG_TAIL:] or "(QEMU printed nothing)"
