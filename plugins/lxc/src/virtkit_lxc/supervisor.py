"""One supervisor process per container, as libvirt's ``libvirt_lxc``.

:func:`spawn_supervisor` forks it (double fork, own session, so it outlives the process that
started the container). The supervisor creates the container, keeps its console pty and
relays it, reaps, records the status file, and on init's exit cleans up (cgroup, veths) and
records why it stopped. Requests come as signals:

- ``SIGUSR1``: destroy (kill the container's pid namespace);
- ``SIGUSR2``: reboot (kill it and start a fresh one with the same config).

Init asking the kernel to reboot (``reboot(2)`` in a pid namespace ends init with ``SIGHUP``)
also restarts the container; halt or power-off (``SIGINT``) or init exiting stops it.

The container is made in two forks, each waiting for an explicit go byte from the supervisor
(a child whose supervisor died mid-handshake reads end-of-file and exits):

1. child A joins the cgroup (written by the supervisor), unshares the namespaces (first the
   user namespace, whose id maps the supervisor writes), and forks;
2. child B, pid 1 of the new pid namespace, waits until its network interfaces are in place,
   then sets up its filesystems and ``execve``s init (:func:`virtkit_lxc.container.become_init`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import select
import selectors
import signal
import threading
import time
import traceback
import tty
from typing import NoReturn

from virtkit.constants import DomainRunningReason, DomainShutoffReason
from virtkit.errors import OperationFailedError
from virtkit.state import StateStore
from virtkit.xml import DomainDef

from virtkit_lxc import linux
from virtkit_lxc.cgroups import Cgroup, start_migration_warm_up
from virtkit_lxc.config import ContainerConfig
from virtkit_lxc.container import become_init, prepare_mount_points
from virtkit_lxc.network import create_interfaces, remove_interfaces
from virtkit_lxc.status import Status, process_start_time, record_status, wait_exit

START_TIMEOUT = 30.0
"""Seconds a supervisor may take to report that the container runs."""
DESTROY_SIGNAL = signal.SIGUSR1
REBOOT_SIGNAL = signal.SIGUSR2


def _read_line(fd: int) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 1)
        if not chunk:
            break
        data += chunk
    return data


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _write_id_map(pid: int, kind: str, ranges: tuple[tuple[int, int, int], ...]) -> None:
    with open(f"/proc/{pid}/{kind}_map", "w") as fh:
        fh.write("".join(f"{start} {target} {count}\n" for start, target, count in ranges))


def _child_fail(err_w: int, exc: BaseException) -> NoReturn:
    try:
        os.write(err_w, f"{exc}".encode() or type(exc).__name__.encode())
    finally:
        os._exit(1)


class Supervisor:
    """Runs in the supervisor process; see the module documentation."""

    def __init__(
        self, config: ContainerConfig, definition: DomainDef, cgroup: Cgroup, run_store: StateStore
    ) -> None:
        self.config = config
        self.definition = definition
        self.cgroup = cgroup
        self.run_store = run_store
        self.private_net = bool(config.interfaces) or config.private_net or config.idmap is not None
        self.init_pid = -1
        self.intent: str | None = None
        self.console_fds: tuple[int, int, int, int] | None = None  # inner m/s, outer m/s
        self.console_path = ""
        self.started = 0.0
        self.wake_fd = -1
        self.warm_up: threading.Thread | None = None

    # ------------------------------------------------------------------ creation

    def open_console(self) -> None:
        inner_m, inner_s = os.openpty()
        outer_m, outer_s = os.openpty()
        tty.setraw(outer_s)
        if self.config.idmap is not None:  # the container's root must open its console
            os.fchown(
                inner_s, self.config.idmap.host_id("uid", 0), self.config.idmap.host_id("gid", 0)
            )
        for fd in (inner_m, outer_m):
            os.set_blocking(fd, False)
        self.console_fds = (inner_m, inner_s, outer_m, outer_s)
        self.console_path = os.ttyname(outer_s)

    def launch(self) -> None:
        """Create the container; return once its init runs. Raises with what failed, after
        killing whatever it had started."""
        config = self.config
        go_a_r, go_a_w = os.pipe()
        go_b_r, go_b_w = os.pipe()
        pid_r, pid_w = os.pipe()
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        console = os.ttyname(self.console_fds[1]) if self.console_fds else None
        flags = linux.CLONE_NEWNS | linux.CLONE_NEWUTS | linux.CLONE_NEWIPC | linux.CLONE_NEWPID
        if self.private_net:
            flags |= linux.CLONE_NEWNET
        a_pid = os.fork()
        if a_pid == 0:  # child A
            try:
                for fd in (go_a_w, go_b_w, pid_r, err_r):
                    os.close(fd)
                if os.read(go_a_r, 1) != b"A":
                    os._exit(1)
                if config.idmap is not None:
                    linux.unshare(linux.CLONE_NEWUSER)
                    os.write(pid_w, b"u\n")
                    if os.read(go_a_r, 1) != b"M":
                        os._exit(1)
                    os.setresgid(0, 0, 0)
                    os.setresuid(0, 0, 0)
                linux.unshare(flags)
                b_pid = os.fork()
                if b_pid == 0:  # child B: pid 1 of the container
                    os.close(go_a_r)
                    os.close(pid_w)
                    if os.read(go_b_r, 1) != b"G":
                        os._exit(1)
                    os.close(go_b_r)
                    become_init(config, console)
                os.write(pid_w, f"{b_pid}\n".encode())
                os._exit(0)
            except BaseException as exc:
                _child_fail(err_w, exc)
        for fd in (go_a_r, go_b_r, pid_w, err_w):
            os.close(fd)
        b_pid = -1
        try:
            if self.warm_up is not None:
                self.warm_up.join()
                self.warm_up = None
            self.cgroup.add(a_pid)
            os.write(go_a_w, b"A")
            line = _read_line(pid_r)
            if line == b"u\n" and config.idmap is not None:
                _write_id_map(a_pid, "uid", config.idmap.uid)
                _write_id_map(a_pid, "gid", config.idmap.gid)
                os.write(go_a_w, b"M")
                line = _read_line(pid_r)
            # child A exits once it has forked B; serve() reaps it, off the critical path
            if not line.strip().isdigit():
                raise OperationFailedError(
                    f"cannot create the namespaces of container '{config.name}': "
                    f"{_read_all(err_r).decode() or 'the helper process died'}"
                )
            b_pid = int(line)
            if config.interfaces:
                create_interfaces(config.interfaces, b_pid)
            os.write(go_b_w, b"G")
            os.close(go_b_w)
            go_b_w = -1
            error = _read_all(err_r)  # end-of-file without data: init was exec'd
            if error:
                raise OperationFailedError(
                    f"cannot start container '{config.name}': {error.decode()}"
                )
        except BaseException:
            if b_pid > 0:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(b_pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(b_pid, 0)
            remove_interfaces([i.host_name for i in config.interfaces])
            raise
        finally:
            for fd in (go_a_w, go_b_w, pid_r, err_r):
                if fd >= 0:
                    os.close(fd)
        self.init_pid = b_pid
        self.started = time.time()

    def record(self, state: str, reason: int, error: str = "") -> None:
        """Write the status file (and the live XML) for the container's present state."""
        record_status(self.run_store, self.status(state, reason, error), self.definition)

    def status(self, state: str, reason: int, error: str = "") -> Status:
        return Status(
            name=self.config.name,
            uuid=str(self.config.uuid),
            supervisor_pid=os.getpid(),
            supervisor_start=process_start_time(os.getpid()) or 0,
            init_pid=self.init_pid if state == "running" else -1,
            state=state,
            reason=reason,
            console=self.console_path,
            cgroup=self.cgroup.relpath,
            veths=tuple(i.host_name for i in self.config.interfaces),
            started=self.started,
            error=error,
        )

    # ------------------------------------------------------------------ main loop

    def catch_signals(self) -> None:
        """Queue the signals :meth:`serve` acts on from now on (a request that comes while the
        container is still being created is acted on once it runs)."""
        self.wake_fd, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        for sig in (signal.SIGCHLD, DESTROY_SIGNAL, REBOOT_SIGNAL, signal.SIGTERM):
            signal.signal(sig, lambda *_: None)

    def serve(self) -> int:
        """Relay the console and wait for init to exit; return the shut-off reason."""
        wake_r = self.wake_fd
        sel = selectors.DefaultSelector()
        sel.register(wake_r, selectors.EVENT_READ, "signal")
        if self.console_fds:
            inner_m, _, outer_m, _ = self.console_fds
            sel.register(inner_m, selectors.EVENT_READ, (inner_m, outer_m))
            sel.register(outer_m, selectors.EVENT_READ, (outer_m, inner_m))
        reason = self._reap()  # init may have ended before the handlers were in place
        while reason is None:
            for key, _ in sel.select():
                if key.data != "signal":
                    self._relay(sel, *key.data)
                    continue
                for signum in os.read(wake_r, 64):
                    if signum in (DESTROY_SIGNAL, signal.SIGTERM):
                        self.intent = "destroy"
                        self._kill_init()
                    elif signum == REBOOT_SIGNAL:
                        self.intent = "reboot"
                        self._kill_init()
                reason = self._reap()
        return reason

    def _relay(self, sel: selectors.BaseSelector, src: int, dst: int) -> None:
        try:
            data = os.read(src, 4096)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EINTR):
                return
            sel.unregister(src)  # EIO: nobody holds the other side
            return
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(dst, data)  # a console nobody reads drops output rather than block init

    def _kill_init(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.init_pid, signal.SIGKILL)

    def _reap(self) -> int | None:
        """Reap exited children; when init is among them, act on it (restart or stop)."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return None
            if pid == 0:
                return None
            if pid != self.init_pid:
                continue
            reboot = self.intent == "reboot" or (
                os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGHUP
            )
            if self.intent == "destroy":
                return DomainShutoffReason.DESTROYED
            if reboot:
                self.intent = None
                remove_interfaces([i.host_name for i in self.config.interfaces])
                try:
                    self.launch()
                except Exception as exc:
                    self._log(f"reboot failed: {exc}")
                    return DomainShutoffReason.FAILED
                self.record("running", DomainRunningReason.BOOTED)
                continue
            if os.WIFEXITED(status) or (
                os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGINT
            ):
                return DomainShutoffReason.SHUTDOWN
            return DomainShutoffReason.CRASHED

    def release(self, reason: int) -> None:
        """Remove what the container held on the host and record that it stopped."""
        remove_interfaces([i.host_name for i in self.config.interfaces])
        error = ""
        try:
            self.cgroup.remove()
        except Exception as exc:
            error = str(exc)
            self._log(error)
        self.record("shutoff", reason, error)

    @staticmethod
    def _log(message: str) -> None:
        os.write(2, f"{time.strftime('%F %T')} {message}\n".encode())


def _detach(keep: list[int], log_path: str) -> None:
    """Put stdio on the log file and close every other descriptor."""
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    linux.close_fds_except(keep)
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)


def _supervise(
    supervisor: Supervisor, report_w: int, log_path: str
) -> NoReturn:  # pragma: no cover - runs in the supervisor process
    code = 1
    try:
        _detach([report_w], log_path)
        supervisor.catch_signals()
        supervisor.cgroup.create()
        # after create(): a move holds the cgroup mutex that mkdir needs while it waits
        supervisor.warm_up = start_migration_warm_up()
        try:
            supervisor.cgroup.set_limits(
                memory=supervisor.config.memory_limit_bytes,
                soft=supervisor.config.soft_limit_bytes,
                swap=supervisor.config.swap_limit_bytes,
                shares=supervisor.config.cpu_shares,
            )
            prepare_mount_points(supervisor.config)
            if supervisor.config.console:
                supervisor.open_console()
            supervisor.launch()
        except BaseException:
            supervisor.cgroup.remove()
            raise
        supervisor.record("running", DomainRunningReason.BOOTED)
        os.write(report_w, json.dumps({"ok": True}).encode())
        os.close(report_w)
        report_w = -1
        reason = supervisor.serve()
        supervisor.release(reason)
        code = 0
    except BaseException as exc:
        message = exc.message if hasattr(exc, "message") else str(exc)
        if report_w >= 0:
            with contextlib.suppress(OSError):
                os.write(report_w, json.dumps({"error": message}).encode())
        with contextlib.suppress(OSError):
            os.write(2, traceback.format_exc().encode())
    finally:
        os._exit(code)


def _read_report(fd: int, timeout: float) -> tuple[bytes, bool]:
    """What is written to ``fd`` until end-of-file (``True``) or until ``timeout`` passed
    (``False``, with what came so far)."""
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            return b"".join(chunks), False
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)


def _abandon(partial: bytes, supervisor: Supervisor, log_path: str) -> NoReturn:
    """Kill a supervisor that hangs while starting (its children then read end-of-file where
    they wait for their go byte, and exit) and remove what it made. ``partial`` is what it
    reported so far: its pid first."""
    with contextlib.suppress(OSError, ValueError):
        pid = int(partial.partition(b"\n")[0])
        os.kill(pid, signal.SIGKILL)
        wait_exit(pid, 5.0)
    remove_interfaces([i.host_name for i in supervisor.config.interfaces])
    supervisor.cgroup.remove()
    raise OperationFailedError(
        f"container '{supervisor.config.name}' did not start within {START_TIMEOUT:g} s; "
        f"its supervisor was killed (log: {log_path})"
    )


def spawn_supervisor(
    config: ContainerConfig,
    definition: DomainDef,
    *,
    cgroup: Cgroup,
    run_store: StateStore,
    log_path: str,
) -> None:
    """Start the container's supervisor (double fork) and return once the container runs.

    :raises OperationFailedError: with the supervisor's message; the supervisor has then
        removed everything it created and exited.
    """
    report_r, report_w = os.pipe2(os.O_CLOEXEC)
    supervisor = Supervisor(config, definition, cgroup, run_store)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the intermediate process
        try:
            os.close(report_r)
            os.setsid()
            child = os.fork()
            if child == 0:
                _supervise(supervisor, report_w, log_path)
            os.write(report_w, f"{child}\n".encode())
        finally:
            os._exit(0)
    os.close(report_w)
    try:
        raw, complete = _read_report(report_r, START_TIMEOUT)
    finally:
        os.close(report_r)
        os.waitpid(pid, 0)  # the intermediate process exits as soon as it has forked
    if not complete:
        _abandon(raw, supervisor, log_path)
    raw = raw.partition(b"\n")[2]  # after the supervisor's pid
    try:
        report = json.loads(raw) if raw else {"error": "the supervisor died while starting it"}
    except ValueError:
        report = {"error": raw.decode(errors="replace")}
    if not report.get("ok"):
        raise OperationFailedError(f"{report['error']} (log: {log_path})")
