"""cgroups on both hierarchies: v1 (this machine's controllers) and v2 (the cgroup2 mount)."""

from __future__ import annotations

import os
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


@pytest.mark.parametrize("hierarchy", ["v1", "v2"])
def test_create_join_freeze_thaw_remove(hierarchy: str) -> None:
    root = cgroup2_root() if hierarchy == "v2" else V1_ROOT
    if hierarchy == "v1" and is_v2(V1_ROOT):
        pytest.fail("this host has no cgroup v1 hierarchy to test")
    group = Cgroup(f"virtkit-test/{uuid.uuid4().hex[:8]}", root)
    assert group.v2 == (hierarchy == "v2")
    group.create()
    spinner = subprocess.Popen(["sh", "-c", "while :; do :; done"])
    try:
        group.add(spinner.pid)
        assert spinner.pid in [
            int(p) for p in (group.folders()[0] / "cgroup.procs").read_text().split()
        ]
        group.freeze(True)
        assert group.is_frozen() and stopped_when_frozen(spinner.pid)
        group.freeze(False)
        assert not group.is_frozen() and not stopped_when_frozen(spinner.pid)
    finally:
        spinner.kill()
        spinner.wait()
    group.remove()
    assert not group.exists()
    assert not (root / "virtkit-test").exists() and not (root / "memory/virtkit-test").exists()


def test_v1_limits_are_written() -> None:
    if is_v2(V1_ROOT):
        pytest.fail("this host has no cgroup v1 hierarchy to test")
    group = Cgroup(f"virtkit-test/{uuid.uuid4().hex[:8]}")
    group.create()
    try:
        group.set_limits(memory=48 << 20, soft=32 << 20, swap=None, shares=512, pids=99)
        mem = group.dirs["memory"]
        assert int((mem / "memory.limit_in_bytes").read_text()) == 48 << 20
        assert int((mem / "memory.soft_limit_in_bytes").read_text()) == 32 << 20
        assert (group.dirs["cpu"] / "cpu.shares").read_text().strip() == "512"
        assert (group.dirs["pids"] / "pids.max").read_text().strip() == "99"
    finally:
        group.remove()
    assert not os.path.exists(V1_ROOT / "memory/virtkit-test")
