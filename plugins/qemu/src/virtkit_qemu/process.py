"""Looking at and stopping QEMU processes that are not (necessarily) our children.

A QEMU started with ``-daemonize`` is re-parented to init, so it is identified by its PID plus
its start time (``/proc/<pid>/stat`` field 22), which guards against PID reuse. A zombie counts
as gone.
"""

from __future__ import annotations

import os
import select
import signal
import time

# Linux names another process's CPU clock by ``(~pid << 3) | clock``; 2 is its scheduler clock.
_CPUCLOCK_SCHED = 2


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` after the command name, or ``None`` if there is no such
    process. ``fields[0]`` is the state letter (field 3 of proc(5))."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            text = fh.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text[text.rindex(")") + 2 :].split()


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, ``None`` if it is gone."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def is_alive(pid: int, started: int) -> bool:
    """Whether process ``pid`` that started at ``started`` still runs (zombies do not)."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X") and int(fields[19]) == started


def cpu_time_ns(pid: int) -> int:
    """CPU time of all the process's threads, in nanoseconds (0 when it is gone).

    Read from the kernel's per-process CPU clock, exact to the nanosecond: ``/proc/<pid>/stat``
    counts in clock ticks (10 ms), so a QEMU that has just started reads 0 there.
    """
    try:
        return time.clock_gettime_ns(((~pid) << 3) | _CPUCLOCK_SCHED)
    except OSError:
        return 0


def wait_gone(pid: int, started: int, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for the process to exit; ``True`` once it has."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        if not is_alive(pid, started):
            return True
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return not is_alive(pid, started)
            readable, _, _ = select.select([fd], [], [], remaining)
            if readable:
                return True
    finally:
        os.close(fd)


def terminate(pid: int, started: int, grace: float, *, kill: bool = True) -> None:
    """SIGTERM (QEMU flushes its disk caches and exits), then, with ``kill``, SIGKILL after
    ``grace`` seconds; returns once the process is gone.

    :raises TimeoutError: it is still there (without ``kill``: ``grace`` seconds after
        SIGTERM)."""
    steps = ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)) if kill else ((signal.SIGTERM, grace),)
    for sig, wait in steps:
        if not is_alive(pid, started):
            return
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        if wait_gone(pid, started, wait):
            return
    last = "SIGKILL" if kill else f"{grace:g} s after SIGTERM"
    raise TimeoutError(f"QEMU process {pid} did not exit ({last})")
