"""A container's control group on cgroup v1 (one folder per controller) or v2 (one folder).

The hierarchy is detected, not assumed: v2 when ``/sys/fs/cgroup`` itself is a cgroup2 mount
(``cgroup.controllers`` at its top), v1 otherwise (an empty cgroup2 at ``unified`` beside v1
controllers counts as v1).
"""

from __future__ import annotations

import contextlib
import errno
import threading
import time
from pathlib import Path

from virtkit.errors import HostSystemError

CGROUP_ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("memory", "cpu", "cpuacct", "pids", "freezer")
V2_CONTROLLERS = ("memory", "cpu", "pids")
DEFAULT_PIDS_MAX = 16384
"""``pids.max`` of every container: libvirt's XML has no pids limit; this bounds a fork bomb."""


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError as exc:
        raise HostSystemError(f"cannot write '{value}' to {path}: {exc.strerror}") from exc


def is_v2(root: Path = CGROUP_ROOT) -> bool:
    return (root / "cgroup.controllers").is_file()


def shares_to_weight(shares: int) -> int:
    """cgroup v1 ``cpu.shares`` (2..262144) to v2 ``cpu.weight`` (1..10000), as the kernel's
    own conversion does."""
    shares = min(max(shares, 2), 262144)
    return 1 + ((shares - 2) * 9999) // 262142


def start_migration_warm_up() -> threading.Thread:
    """Move this process, in a background thread, into the cgroup it is already in.

    The kernel's first cgroup move after a quiet spell waits for an RCU grace period (8 to
    10 ms here); moves that follow soon after take microseconds. Paying that wait while the
    container is being prepared takes it off the start's critical path. Join the thread before
    the real move; a failure only means the real move pays the wait itself.
    """

    def move_self() -> None:
        with contextlib.suppress(OSError, StopIteration):
            with open("/proc/self/cgroup") as fh:
                lines = [line.rstrip("\n").split(":", 2) for line in fh]
            if is_v2():
                path = CGROUP_ROOT / next(p for _, c, p in lines if c == "").lstrip("/")
            else:
                path = (
                    CGROUP_ROOT / "pids" / next(p for _, c, p in lines if c == "pids").lstrip("/")
                )
            (path / "cgroup.procs").write_text("0")

    thread = threading.Thread(target=move_self, name="cgroup-warm-up", daemon=True)
    thread.start()
    return thread


class Cgroup:
    """The cgroup ``relpath`` (e.g. ``virtkit/lxc-system/web``) in every hierarchy it needs."""

    def __init__(self, relpath: str, root: Path = CGROUP_ROOT) -> None:
        self.relpath = relpath
        self.root = root
        self.v2 = is_v2(root)
        if self.v2:
            self.dirs = {c: root / relpath for c in (*V2_CONTROLLERS, "freezer", "cpuacct")}
        else:
            self.dirs = {c: root / c / relpath for c in V1_CONTROLLERS}

    def folders(self) -> list[Path]:
        """Each distinct folder (v1 controllers may share one, e.g. ``cpu,cpuacct``)."""
        seen: dict[Path, None] = {}
        for path in self.dirs.values():
            seen.setdefault(path.parent.resolve() / path.name, None)
        return list(seen)

    def exists(self) -> bool:
        return any(p.is_dir() for p in self.folders())

    def create(self) -> None:
        """Make the folders (and, on v2, enable the controllers on the way down)."""
        try:
            if self.v2:
                self._enable_v2_controllers()
            for path in self.folders():
                path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.remove()
            raise HostSystemError(f"cannot create cgroup {self.relpath}: {exc}") from exc

    def _enable_v2_controllers(self) -> None:
        """Delegate memory, cpu and pids down to the group (those the hierarchy offers: on a
        hybrid host they may be bound to v1, and limits then fail when set)."""
        available = set((self.root / "cgroup.controllers").read_text().split())
        wanted = " ".join(f"+{c}" for c in V2_CONTROLLERS if c in available)
        parent = self.root
        for part in Path(self.relpath).parts:
            if wanted:
                _write(parent / "cgroup.subtree_control", wanted)
            parent = parent / part
            parent.mkdir(exist_ok=True)

    def set_limits(
        self,
        *,
        memory: int,
        soft: int | None,
        swap: int | None,
        shares: int | None,
        pids: int = DEFAULT_PIDS_MAX,
    ) -> None:
        d = self.dirs
        if self.v2:
            _write(d["memory"] / "memory.max", str(memory))
            if soft:
                _write(d["memory"] / "memory.high", str(soft))
            if swap is not None and (d["memory"] / "memory.swap.max").exists():
                _write(d["memory"] / "memory.swap.max", str(max(swap - memory, 0)))
            if shares:
                _write(d["cpu"] / "cpu.weight", str(shares_to_weight(shares)))
            _write(d["pids"] / "pids.max", str(pids))
            return
        _write(d["memory"] / "memory.limit_in_bytes", str(memory))
        if soft:
            _write(d["memory"] / "memory.soft_limit_in_bytes", str(soft))
        if swap is not None and (d["memory"] / "memory.memsw.limit_in_bytes").exists():
            _write(d["memory"] / "memory.memsw.limit_in_bytes", str(swap))
        if shares:
            _write(d["cpu"] / "cpu.shares", str(shares))
        _write(d["pids"] / "pids.max", str(pids))

    def add(self, pid: int) -> None:
        """Move process ``pid`` into every folder of the group."""
        for path in self.folders():
            _write(path / "cgroup.procs", str(pid))

    def pids(self) -> list[int]:
        try:
            text = (self.dirs["pids"] / "cgroup.procs").read_text()
        except FileNotFoundError:
            return []
        return [int(line) for line in text.split()]

    # ---------------------------------------------------------------- freezer

    def freeze(self, frozen: bool, timeout: float = 5.0) -> None:
        """Freeze or thaw every process of the group; return once the kernel says it is done."""
        d = self.dirs["freezer"]
        if self.v2:
            _write(d / "cgroup.freeze", "1" if frozen else "0")
        else:
            _write(d / "freezer.state", "FROZEN" if frozen else "THAWED")
        deadline = time.monotonic() + timeout
        while self.is_frozen() != frozen:
            if time.monotonic() > deadline:
                raise HostSystemError(
                    f"cgroup {self.relpath} did not become {'frozen' if frozen else 'thawed'} "
                    f"within {timeout} s"
                )
            time.sleep(0.001)

    def is_frozen(self) -> bool:
        d = self.dirs["freezer"]
        try:
            if self.v2:
                return "frozen 1" in (d / "cgroup.events").read_text()
            return (d / "freezer.state").read_text().strip() == "FROZEN"
        except FileNotFoundError:
            return False

    # ---------------------------------------------------------------- statistics

    def cpu_time_ns(self) -> int:
        try:
            if self.v2:
                for line in (self.dirs["cpu"] / "cpu.stat").read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "usage_usec":
                        return int(value) * 1000
                return 0
            return int((self.dirs["cpuacct"] / "cpuacct.usage").read_text())
        except (FileNotFoundError, ValueError):
            return 0

    def memory_usage(self) -> int:
        name = "memory.current" if self.v2 else "memory.usage_in_bytes"
        try:
            return int((self.dirs["memory"] / name).read_text())
        except (FileNotFoundError, ValueError):
            return 0

    # ---------------------------------------------------------------- removal

    def remove(self, timeout: float = 2.0) -> None:
        """Remove the folders (waiting for exiting processes to leave), then empty parents."""
        deadline = time.monotonic() + timeout
        for path in self.folders():
            while True:
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                        raise HostSystemError(
                            f"cannot remove cgroup {path}: {exc.strerror}"
                        ) from exc
                    time.sleep(0.001)
            for parent in path.parents[: len(Path(self.relpath).parts) - 1]:
                try:
                    parent.rmdir()
                except OSError:
                    break
