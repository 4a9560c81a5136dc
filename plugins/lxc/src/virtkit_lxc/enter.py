"""Run a program inside a running container: in its cgroups and its namespaces.

This is libvirt's ``lxc-enter-namespace``: the child first joins the container's cgroups
(``nsenter`` does not), then ``setns`` into each namespace of the container's init, then forks
once more so the program itself is inside the container's pid namespace.
"""

from __future__ import annotations

import os
import selectors
import subprocess
from collections.abc import Mapping, Sequence

from virtkit.errors import HostSystemError, OperationFailedError

from virtkit_lxc import linux
from virtkit_lxc.cgroups import Cgroup

ALL_NAMESPACES = ("user", "ipc", "uts", "net", "pid", "mnt")
"""The order namespaces are joined in: the user namespace first (it grants the rights to join
the others), the mount namespace last (it changes the root)."""

DEFAULT_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "TERM": "linux",
}


def _namespace_fds(init_pid: int, namespaces: Sequence[str]) -> list[tuple[str, int]]:
    fds = []
    try:
        for ns in namespaces:
            path = f"/proc/{init_pid}/ns/{ns}"
            # Joining a namespace the caller is already in is pointless (and EINVAL for user).
            if os.stat(path).st_ino == os.stat(f"/proc/self/ns/{ns}").st_ino:
                continue
            fds.append((ns, os.open(path, os.O_RDONLY | os.O_CLOEXEC)))
    except OSError as exc:
        for _, fd in fds:
            os.close(fd)
        raise HostSystemError(f"cannot open namespaces of process {init_pid}: {exc}") from exc
    return fds


def spawn_inside(
    init_pid: int,
    argv: Sequence[str],
    *,
    cgroup: Cgroup | None,
    namespaces: Sequence[str] = ALL_NAMESPACES,
    env: Mapping[str, str] | None = None,
    stdin: int | None = None,
    stdout: int | None = None,
    stderr: int | None = None,
) -> int:
    """Start ``argv`` inside the container whose init is host pid ``init_pid``.

    :param cgroup: the container's cgroup, joined before the namespaces (``None`` to skip).
    :param namespaces: which of ``/proc/PID/ns/*`` to join, in :data:`ALL_NAMESPACES` order.
    :param stdin, stdout, stderr: descriptors to give the program (default: the caller's).
    :returns: the pid of a helper process that exits with the program's status (wait for it).
    :raises OperationFailedError: a namespace could not be joined or the program not started.
    """
    if not argv:
        raise OperationFailedError("no program given to run inside the container")
    ns_fds = _namespace_fds(init_pid, [n for n in ALL_NAMESPACES if n in namespaces])
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    environment = dict(env if env is not None else DEFAULT_ENV)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            os.close(err_r)
            # Only the program joins the cgroup: this helper, a copy of the caller, must not be
            # what the container's OOM killer picks. Writing "0" moves the writer.
            procs = [
                os.open(folder / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC)
                for folder in (cgroup.folders() if cgroup is not None else [])
            ]
            for ns, fd in ns_fds:
                linux.setns(fd, linux.NAMESPACE_FLAGS[ns])
            if any(ns == "user" for ns, _ in ns_fds):  # be the container's root, not nobody
                os.setgroups([])
                os.setresgid(0, 0, 0)
                os.setresuid(0, 0, 0)
            if "mnt" in namespaces:
                os.chdir("/")
            for target, given in ((0, stdin), (1, stdout), (2, stderr)):
                if given is not None:
                    os.dup2(given, target)
            linux.close_fds_except([*procs, err_w])
            inner = os.fork()
            if inner == 0:
                for fd in procs:
                    os.write(fd, b"0")
                os.execvpe(argv[0], list(argv), environment)
            os.close(err_w)
            _, status = os.waitpid(inner, 0)
            code = os.waitstatus_to_exitcode(status)
            os._exit(128 - code if code < 0 else code)  # killed by signal N: 128+N, as shells say
        except BaseException as exc:
            try:
                os.write(err_w, f"{type(exc).__name__}: {exc}".encode())
            finally:
                os._exit(127)
    os.close(err_w)
    for _, fd in ns_fds:
        os.close(fd)
    with os.fdopen(err_r, "rb") as pipe:
        error = pipe.read()
    if error:
        os.waitpid(pid, 0)
        raise OperationFailedError(
            f"cannot run {argv[0]!r} inside the container (init pid {init_pid}): {error.decode()}"
        )
    return pid


def run_inside(
    init_pid: int,
    argv: Sequence[str],
    *,
    cgroup: Cgroup | None,
    namespaces: Sequence[str] = ALL_NAMESPACES,
    input: bytes = b"",
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv`` inside the container to completion; capture its output (see
    :func:`spawn_inside` for the arguments)."""
    in_r, in_w = os.pipe2(os.O_CLOEXEC)
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    try:
        pid = spawn_inside(
            init_pid,
            argv,
            cgroup=cgroup,
            namespaces=namespaces,
            env=env,
            stdin=in_r,
            stdout=out_w,
            stderr=err_w,
        )
    finally:
        for fd in (in_r, out_w, err_w):
            os.close(fd)
    outputs = {out_r: bytearray(), err_r: bytearray()}
    with selectors.DefaultSelector() as sel:
        for fd in outputs:
            sel.register(fd, selectors.EVENT_READ)
        pending = memoryview(input)
        if pending:
            sel.register(in_w, selectors.EVENT_WRITE)
        else:
            os.close(in_w)
        while sel.get_map():
            for key, _ in sel.select():
                if key.fd == in_w:
                    try:
                        pending = pending[os.write(in_w, pending) :]
                    except BrokenPipeError:
                        pending = pending[:0]
                    if not pending:
                        sel.unregister(in_w)
                        os.close(in_w)
                    continue
                chunk = os.read(key.fd, 65536)
                if chunk:
                    outputs[key.fd] += chunk
                else:
                    sel.unregister(key.fd)
                    os.close(key.fd)
    _, status = os.waitpid(pid, 0)
    return subprocess.CompletedProcess(
        list(argv), os.waitstatus_to_exitcode(status), bytes(outputs[out_r]), bytes(outputs[err_r])
    )
