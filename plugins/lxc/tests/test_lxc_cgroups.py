"""cgroups on both hierarchies: v1 (this machine's controllers) and v2 (the cgroup2 mount)."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest
from virtkit_lxc.cgroups import Cgroup, is_v2, shares_to_weight

V1_ROOT = Path("/sys/fs/cgroup")


def cgroup2_root() -> Path:
    """A cgroup2 mount: /sys/fs/cgroup itself on pure-v2 hosts, else the hybrid 'unified' one."""
    for candidate in (V1_ROOT, V1_ROOT / "unified"):
        if is_v2(candidate):
            return candidate
    pytest.fail(
        "no cgroup2 hierarchy is mounted (neither /sys/fs/cgroup nor /sys/fs/cgroup/unified)"
    )


def stopped_when_frozen(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as fh:
        before = fh.read().split()[13]  # utime
    time.sleep(0.1)
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().split()[13] == before


def test_shares_convert_to_weight_as_the_kernel_does() -> None:
    assert shares_to_weight(1024) == 39
    assert shares_to_weight(2) == 1 and shares_to_weight(262144) == 10000
    assert shares_to_weight(1) == 1 and shares_to_weight(10**9) == 10000


def hierarchies() -> list[tuple[str, Path]]:
    """The hierarchies this host has: v1 controllers and/or a cgroup2 mount."""
    found = [("v2", cgroup2_root())]
    if not is_v2(V1_ROOT):
        found.insert(0, ("v1", V1_ROOT))
    return found


def test_create_join_freeze_thaw_remove_on_every_hierarchy() -> None:
    for hierarchy, root in hierarchies():
        group = Cgroup(f"virtkit-test/{uuid.uuid4().hex[:8]}", root)
        assert group.v2 == (hierarchy == "v2")
        group.create()
        spinner = subprocess.Popen(["sh", "-c", "while :; do :; done"])
        try:
            group.add(spinner.pid)
            procs = (group.folders()[0] / "cgroup.procs").read_text().split()
            assert str(spinner.pid) in procs, hierarchy
            group.freeze(True)
            assert group.is_frozen() and stopped_when_frozen(spinner.pid), hierarchy
            group.freeze(False)
            assert not group.is_frozen() and not stopped_when_frozen(spinner.pid), hierarchy
        finally:
            spinner.kill()
            spinner.wait()
        group.remove()
        assert not group.exists(), hierarchy
        leftovers = [root / "virtkit-test", root / "memory/virtkit-test"]
        assert not any(p.exists() for p in leftovers), hierarchy


def test_limits_are_written_on_the_hosts_hierarchy() -> None:
    """On the hierarchy containers get their controllers from (v1 here, v2 on pure-v2 hosts)."""
    group = Cgroup(f"virtkit-test/{uuid.uuid4().hex[:8]}")
    group.create()
    try:
        group.set_limits(memory=48 << 20, soft=32 << 20, swap=None, shares=512, pids=99)
        mem, cpu, pids = group.dirs["memory"], group.dirs["cpu"], group.dirs["pids"]
        if group.v2:
            assert int((mem / "memory.max").read_text()) == 48 << 20
            assert int((mem / "memory.high").read_text()) == 32 << 20
            assert (cpu / "cpu.weight").read_text().strip() == str(shares_to_weight(512))
        else:
            assert int((mem / "memory.limit_in_bytes").read_text()) == 48 << 20
            assert int((mem / "memory.soft_limit_in_bytes").read_text()) == 32 << 20
            assert (cpu / "cpu.shares").read_text().strip() == "512"
        assert (pids / "pids.max").read_text().strip() == "99"
    finally:
        group.remove()
    assert not group.exists()
