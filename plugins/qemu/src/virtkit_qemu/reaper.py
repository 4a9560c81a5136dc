"""Autodestroy without a daemon: one small process per autodestroy domain waits for the process
that owns the domain to exit, however it exits (even ``kill -9``), then stops the domain's QEMU.
The next look at the domain records it destroyed (see :meth:`QemuHost.reconcile`).

``python -m virtkit_qemu.reaper OWNER_PID OWNER_START QEMU_PID QEMU_START``
"""

from __future__ import annotations

import os
import select
import subprocess
import sys

from virtkit_qemu import process


def spawn(owner_pid: int, owner_started: int, qemu_pid: int, qemu_started: int) -> None:
    """Start the reaper, detached (it outlives nobody: it ends with the owner or with QEMU)."""
    subprocess.Popen(
        [
            sys.executable,
            "-m",
            "virtkit_qemu.reaper",
            *(str(n) for n in (owner_pid, owner_started, qemu_pid, qemu_started)),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


def wait_and_reap(owner_pid: int, owner_started: int, qemu_pid: int, qemu_started: int) -> None:
    try:
        qemu_fd = os.pidfd_open(qemu_pid)
    except ProcessLookupError:
        return
    try:
        owner_fd = os.pidfd_open(owner_pid)
    except ProcessLookupError:
        owner_fd = None
    if owner_fd is not None and process.is_alive(owner_pid, owner_started):
        readable, _, _ = select.select([owner_fd, qemu_fd], [], [])
        if qemu_fd in readable:
            return  # QEMU ended first: nothing to do
    if process.is_alive(qemu_pid, qemu_started):
        process.terminate(qemu_pid, qemu_started, grace=0.15)


def main(argv: list[str]) -> int:
    owner_pid, owner_started, qemu_pid, qemu_started = (int(a) for a in argv)
    wait_and_reap(owner_pid, owner_started, qemu_pid, qemu_started)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
