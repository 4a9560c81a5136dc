"""StateStore across processes: concurrent writers lose nothing, crashes (kill -9) at any point
leave every file readable, and a half-applied batch is finished by the next process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from virtkit.state import StateStore
from virtkit.state.lock import FileLock, file_lock

COUNTER_WORKER = """
import sys
from pathlib import Path
from virtkit.state import StateStore

store = StateStore(Path(sys.argv[1]))
for _ in range(int(sys.argv[2])):
    with store.transaction() as batch:
        value = int(batch.read_text("counter") or 0) + 1
        batch.write_text("counter", str(value))
        batch.write_text("copies/mirror", str(value))
"""

CONSISTENCY_READER = """
import sys
from pathlib import Path
from virtkit.state import StateStore

store = StateStore(Path(sys.argv[1]))
seen = set()
while "done" not in seen:
    with store.lock():
        counter, mirror = store.read_text("counter"), store.read_text("copies/mirror")
    if counter != mirror:
        sys.exit(f"torn batch seen: counter={counter} mirror={mirror}")
    seen.add(counter)
    if counter == sys.argv[2]:
        seen.add("done")
print(len(seen))
"""

# Runs one change with a function (MODULE:NAME) made fatal (SIGKILL) at its N-th call: os.replace
# or the swap of a non-durable change, the store's moment of making staged content visible;
# os.rename, its journal's commit point.
DYING_WRITER = """
import importlib, os, signal, sys
from pathlib import Path
from virtkit.state import StateStore

victim, when, mode, durable = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5] == "1"
module_name, name = victim.split(":")
module = importlib.import_module(module_name)
real = getattr(module, name)
calls = 0
def dying(*args, **kwargs):
    global calls
    calls += 1
    if calls == when:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args, **kwargs)
setattr(module, name, dying)

store = StateStore(Path(sys.argv[1]), durable=durable)
if mode == "write":
    store.write_text("domains/vm1.xml", "new vm1")
else:
    with store.transaction() as batch:
        batch.write_text("domains/vm1.xml", "new vm1")
        batch.write_text("snapshots/vm1/s2.xml", "s2")
        batch.write_text("snapshots/vm1/current", "s2")
        batch.remove_tree("snapshots/vm0")
"""

BUSY_WRITER = """
import sys
from pathlib import Path
from virtkit.state import StateStore

store = StateStore(Path(sys.argv[1]))
i = 0
while True:
    i += 1
    store.write_text("big.xml", str(i % 10) * 200_000)
"""


# Takes the store's lock once: a process's first lock of a folder drops what died processes
# left there (later ones only finish an interrupted batch).
LOCKER = """
import sys
from pathlib import Path
from virtkit.state import StateStore

with StateStore(Path(sys.argv[1])).lock():
    pass
"""


def python(script: str, *args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, f"child failed ({proc.returncode}): {err}"
    return out


def leftovers(store: StateStore) -> list[str]:
    found = [name for name in (".journal",) if (store.directory / name).exists()]
    for folder in (".staging", ".trash"):
        if (store.directory / folder).is_dir():
            found += [f"{folder}/{n}" for n in os.listdir(store.directory / folder)]
    return found


def test_concurrent_processes_never_lose_or_tear_changes(tmp_path: Path) -> None:
    writers, rounds = 3, 60
    total = str(writers * rounds)
    StateStore(tmp_path)
    reader = python(CONSISTENCY_READER, tmp_path, total)
    procs = [python(COUNTER_WORKER, tmp_path, rounds) for _ in range(writers)]
    for proc in procs:
        finish(proc)
    states_seen = int(finish(reader))
    store = StateStore(tmp_path)
    assert store.read_text("counter") == total
    assert store.read_text("copies/mirror") == total
    assert states_seen > 2, "the reader never ran alongside the writers"
    assert leftovers(store) == []


def lock_in_a_new_process(store: StateStore) -> None:
    finish(python(LOCKER, store.directory))


def prepare(tmp_path: Path) -> StateStore:
    store = StateStore(tmp_path / "qemu")
    store.write_text("domains/vm1.xml", "old vm1")
    store.write_text("snapshots/vm1/s1.xml", "s1")
    store.write_text("snapshots/vm1/current", "s1")
    store.write_text("snapshots/vm0/s1.xml", "vm0")
    return store


def killed(store: StateStore, victim: str, when: int, mode: str, durable: bool) -> None:
    proc = python(DYING_WRITER, store.directory, victim, when, mode, int(durable))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, f"the child never called {victim}: {err}"


OLD = {
    "domains/vm1.xml": "old vm1",
    "snapshots/vm1/s1.xml": "s1",
    "snapshots/vm1/current": "s1",
    "snapshots/vm0/s1.xml": "vm0",
    "snapshots/vm1/s2.xml": None,
}
NEW = {
    "domains/vm1.xml": "new vm1",
    "snapshots/vm1/s1.xml": "s1",
    "snapshots/vm1/current": "s2",
    "snapshots/vm0/s1.xml": None,
    "snapshots/vm1/s2.xml": "s2",
}


# A process crash is survived alike by durable stores and by those that skip fsync (run state).
DURABILITY = pytest.mark.parametrize("durable", [True, False], ids=["durable", "no-fsync"])

#: what makes a lone change's staged content visible: a rename over the file when durable, a
#: swap with it when not
VISIBLE = {True: "os:replace", False: "virtkit.state.journal:replace_by_exchange"}


def contents(store: StateStore) -> dict[str, str | None]:
    return {path: store.read_text(path) for path in OLD}


@DURABILITY
def test_crash_between_temp_write_and_rename_keeps_old_content(
    tmp_path: Path, durable: bool
) -> None:
    store = prepare(tmp_path)
    killed(store, VISIBLE[durable], 1, "write", durable)
    assert store.read_text("domains/vm1.xml") == "old vm1"
    assert store.list("domains") == ["vm1"]
    assert leftovers(store), "the child died before staging anything: the test proves nothing"
    store.write_text("domains/vm2.xml", "vm2")  # a leftover stands in no one's way
    assert store.read_text("domains/vm2.xml") == "vm2"
    store.remove("domains/vm2.xml")
    lock_in_a_new_process(store)  # the next process clears the dead one's staging area
    assert leftovers(store) == []
    assert contents(store) == OLD


def test_crash_between_swap_and_unlink_keeps_new_content(tmp_path: Path) -> None:
    """A non-durable change swaps the new file in, then unlinks the old one now in staging:
    a crash between the two leaves the new content in place, and the old is a leftover."""
    store = prepare(tmp_path)
    killed(store, "os:unlink", 1, "write", durable=False)
    assert store.read_text("domains/vm1.xml") == "new vm1"
    [leftover] = leftovers(store)
    assert (store.directory / leftover).read_text() == "old vm1"
    lock_in_a_new_process(store)
    assert leftovers(store) == []
    assert store.read_text("domains/vm1.xml") == "new vm1"


@DURABILITY
def test_crash_before_batch_commit_point_keeps_everything_old(
    tmp_path: Path, durable: bool
) -> None:
    store = prepare(tmp_path)
    killed(store, "os:rename", 1, "batch", durable)  # the journal's rename is the commit point
    assert contents(store) == OLD
    with store.lock():
        pass
    assert contents(store) == OLD
    lock_in_a_new_process(store)
    assert leftovers(store) == []


@DURABILITY
def test_crash_mid_batch_is_finished_by_the_next_process(tmp_path: Path, durable: bool) -> None:
    store = prepare(tmp_path)
    killed(store, "os:replace", 2, "batch", durable)  # first staged file in place, the rest not
    half = contents(store)
    assert half != OLD and half != NEW
    assert all(half[path] in (OLD[path], NEW[path]) for path in OLD), "a file is unreadable"
    assert (store.directory / ".journal").exists()
    with store.lock():
        assert contents(store) == NEW
    assert leftovers(store) == []


def test_kill_at_random_moments_never_leaves_a_torn_file(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.write_text("big.xml", "x" * 200_000)
    valid = {"x" * 200_000} | {str(d) * 200_000 for d in range(10)}
    for delay in (0.3, 0.45, 0.6):
        proc = python(BUSY_WRITER, tmp_path)
        time.sleep(delay)
        proc.kill()
        proc.communicate(timeout=30)
        assert store.read_text("big.xml") in valid
        assert store.list("", suffix="") == ["big.xml"]
        with store.lock():
            assert store.read_text("big.xml") in valid
        lock_in_a_new_process(store)
        assert leftovers(store) == []


# Holds a removable lock until told (a line on stdin), then discards it ("discard") or just
# releases it ("keep").
REMOVABLE_HOLDER = """
import sys
from pathlib import Path
from virtkit.state.lock import FileLock

lock = FileLock(Path(sys.argv[1]), removable=True)
lock.acquire()
print("held", flush=True)
sys.stdin.readline()
if sys.argv[2] == "discard":
    lock.discard()
lock.release()
"""


def test_a_waiter_on_a_discarded_lock_locks_its_successor(tmp_path: Path) -> None:
    """A process that waited on a lock file its holder discarded gets the lock on the file
    made again at that path, so it still excludes everyone else; the file is gone when the
    last holder discards it."""
    path = tmp_path / "jobs" / "vm1.lock"
    holder = python(REMOVABLE_HOLDER, path, "discard")
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    waiter = python(REMOVABLE_HOLDER, path, "discard")
    time.sleep(0.3)  # the waiter is blocked on the holder's file by now
    holder.communicate("go\n", timeout=30)
    assert waiter.stdout is not None and waiter.stdout.readline() == "held\n"
    mine = FileLock(path, removable=True)
    assert not mine.try_acquire(), "the waiter holds a file nobody else can find"
    waiter.communicate("go\n", timeout=30)
    assert waiter.returncode == 0
    assert not path.exists()
    assert mine.try_acquire()
    mine.release()


def test_a_discarded_lock_goes_when_its_outermost_hold_ends(tmp_path: Path) -> None:
    lock = FileLock(tmp_path / "vm1.lock", removable=True)
    lock.acquire()
    lock.acquire()
    lock.discard()
    lock.release()
    assert (tmp_path / "vm1.lock").exists()
    lock.release()
    assert not (tmp_path / "vm1.lock").exists()
    with pytest.raises(ValueError, match="not removable"):
        file_lock(tmp_path / ".lock").discard()
