"""StateStore in one process: files, listing, path checks, transactions and their rollback."""

from __future__ import annotations

import os
import signal
import stat
import threading
import time
from pathlib import Path

import pytest
from virtkit.errors import HostSystemError, InvalidArgumentError
from virtkit.state import StateStore, files
from virtkit.state.files import replace_by_exchange


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    return StateStore(tmp_path / "etc" / "qemu")


def visible_files(store: StateStore) -> dict[str, str]:
    """Every file a user of the store can see, with its text."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(store.directory):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if not name.startswith("."):
                path = Path(dirpath, name)
                found[str(path.relative_to(store.directory))] = path.read_text()
    return found


def test_creates_a_private_folder(store: StateStore) -> None:
    assert store.directory.is_dir()
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700


def test_write_read_remove(store: StateStore) -> None:
    assert store.read_text("domains/vm1.xml") is None
    store.write_text("domains/vm1.xml", "<domain>é</domain>")
    assert store.read_text("domains/vm1.xml") == "<domain>é</domain>"
    assert stat.S_IMODE(store.path("domains/vm1.xml").stat().st_mode) == 0o600
    store.write_text("domains/vm1.xml", "<domain/>")
    assert store.read_text("domains/vm1.xml") == "<domain/>"
    assert store.exists("domains/vm1.xml") and store.exists("domains")
    assert store.remove("domains/vm1.xml") is True
    assert store.remove("domains/vm1.xml") is False
    assert store.read_text("domains/vm1.xml") is None
    assert not store.exists("domains/vm1.xml")
    assert visible_files(store) == {}


def test_list_names_sorted_without_suffix_and_hidden_entries(store: StateStore) -> None:
    for name in ("b", "a", "c"):
        store.write_text(f"domains/{name}.xml", name)
    store.write_text("domains/a.xml.bak", "not listed")
    store.write_text("domains/sub/x.xml", "a folder is not a file")
    (store.directory / "domains" / ".hidden.xml").write_text("not listed")
    assert store.list("domains") == ["a", "b", "c"]
    assert store.list("domains", suffix="") == ["a.xml", "a.xml.bak", "b.xml", "c.xml", "sub"]
    assert store.list("") == []
    assert store.list("", suffix="") == ["domains"]
    assert store.list("missing") == []


@pytest.mark.parametrize(
    "bad", ["../x", "a/../../x", "/etc/passwd", "", ".", "a/.journal", ".lock", "a\0b"]
)
def test_paths_outside_the_store_or_hidden_are_refused(store: StateStore, bad: str) -> None:
    uses = (store.read_text, store.exists, store.remove, store.path)
    for use in (*uses, lambda p: store.write_text(p, "x")):
        with pytest.raises(InvalidArgumentError, match="is not allowed in") as info:
            use(bad)
        assert repr(bad) in str(info.value)
    assert not (store.directory.parent / "x").exists()


def test_paths_are_normalised(store: StateStore) -> None:
    store.write_text("./domains//vm.xml", "v")
    assert store.read_text("domains/vm.xml") == "v"
    assert store.relative(Path("domains") / "vm.xml") == "domains/vm.xml"


def test_remove_tree(store: StateStore) -> None:
    store.write_text("snapshots/vm1/s1.xml", "1")
    store.write_text("snapshots/vm1/s2.xml", "2")
    store.write_text("snapshots/vm2/s1.xml", "other")
    store.remove_tree("snapshots/vm1")
    assert visible_files(store) == {"snapshots/vm2/s1.xml": "other"}
    store.remove_tree("snapshots/absent")  # nothing to do is not an error
    assert os.listdir(store.directory / ".trash") == []


def test_transaction_applies_every_change_together(store: StateStore) -> None:
    store.write_text("domains/vm1.xml", "old")
    store.write_text("snapshots/vm1/s0.xml", "gone")
    with store.transaction() as batch:
        batch.write_text("domains/vm1.xml", "new")
        batch.remove_tree("snapshots/vm1")
        batch.write_text("snapshots/vm1/s1.xml", "s1")
        batch.write_text("snapshots/vm1/current", "s1")
        assert batch.read_text("domains/vm1.xml") == "new"
        assert batch.read_text("snapshots/vm1/s0.xml") is None
        assert store.read_text("domains/vm1.xml") == "old"  # nothing visible yet
    assert visible_files(store) == {
        "domains/vm1.xml": "new",
        "snapshots/vm1/s1.xml": "s1",
        "snapshots/vm1/current": "s1",
    }
    assert not (store.directory / ".journal").exists()
    assert os.listdir(store.directory / ".staging") == []


def test_transaction_rolls_back_on_exception(store: StateStore) -> None:
    store.write_text("domains/vm1.xml", "old")
    store.write_text("snapshots/vm1/s0.xml", "s0")
    before = visible_files(store)
    with pytest.raises(RuntimeError, match="hypervisor failed"), store.transaction() as batch:
        batch.write_text("domains/vm1.xml", "new")
        batch.write_text("domains/vm2.xml", "new")
        batch.remove("domains/vm1.xml")
        batch.remove_tree("snapshots")
        raise RuntimeError("hypervisor failed")
    assert visible_files(store) == before
    assert os.listdir(store.directory / ".staging") == []  # what the batch staged is gone


@pytest.mark.parametrize("durable", [True, False], ids=["durable", "no-fsync"])
def test_a_batch_stages_what_it_writes_at_once(
    tmp_path: Path, durable: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written content is staged while the batch goes on, its write-back started when the store
    is durable (what the caller does next overlaps the disk's work); only the end of the batch
    makes it visible."""
    store = StateStore(tmp_path / "store", durable=durable)
    store.write_text("domains/vm1.xml", "old")
    started: list[str] = []
    real_start = files._start_writeback
    monkeypatch.setattr(
        files,
        "_start_writeback",
        lambda fd: (
            started.append(Path(os.readlink(f"/proc/self/fd/{fd}")).read_text()),
            real_start(fd),
        ),
    )
    with store.transaction() as batch:
        batch.write_text("domains/vm1.xml", "new")
        staged = [
            (store.directory / ".staging" / n).read_text()
            for n in os.listdir(store.directory / ".staging")
        ]
        assert staged == ["new"]
        assert started == (["new"] if durable else [])
        assert store.read_text("domains/vm1.xml") == "old"
    assert store.read_text("domains/vm1.xml") == "new"
    assert os.listdir(store.directory / ".staging") == []


def test_transaction_that_cannot_be_staged_changes_nothing(store: StateStore) -> None:
    store.write_text("domains/vm1.xml", "old")
    store.write_text("blocker", "a file where a folder is needed")
    with pytest.raises(HostSystemError, match="blocker"), store.transaction() as batch:
        batch.write_text("domains/vm1.xml", "new")
        batch.write_text("blocker/vm1.xml", "cannot be written")
    assert visible_files(store) == {
        "domains/vm1.xml": "old",
        "blocker": "a file where a folder is needed",
    }
    assert os.listdir(store.directory / ".staging") == []


def test_later_changes_in_a_batch_win(store: StateStore) -> None:
    store.write_text("a.xml", "a")
    with store.transaction() as batch:
        assert batch.remove("a.xml") is True
        assert batch.remove("a.xml") is False
        batch.write_text("a.xml", "again")
        batch.write_text("b.xml", "b")
        assert batch.remove("b.xml") is True
    assert visible_files(store) == {"a.xml": "again"}


def fsynced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record what each ``os.fsync`` call syncs: ``"file"`` or ``"folder"``."""
    synced: list[str] = []
    real = os.fsync

    def counting(fd: int) -> None:
        synced.append("folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    return synced


def test_a_durable_write_fsyncs_the_file_then_its_folder(
    store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.write_text("domains/vm1.xml", "old")  # folders made and synced beforehand
    synced = fsynced(monkeypatch)
    store.write_text("domains/vm1.xml", "new")
    assert synced == ["file", "folder"]
    synced.clear()
    with store.transaction() as batch:  # a batch adds its journal (file, staging, top, top)
        batch.write_text("domains/vm1.xml", "newer")
        batch.write_text("domains/vm2.xml", "two")
    assert synced.count("file") == 3 and synced[-1] == "folder"
    assert store.read_text("domains/vm1.xml") == "newer"


def test_a_store_without_durability_never_fsyncs_and_stays_atomic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = StateStore(tmp_path / "run", durable=False)
    run.write_text("status/vm1.json", "old")
    run.write_text("live/vm0.xml", "<domain/>")  # creating a folder is durable: done beforehand
    synced = fsynced(monkeypatch)
    run.write_text("status/vm1.json", "new")
    with run.transaction() as batch:
        batch.write_text("status/vm1.json", "newer")
        batch.write_text("live/vm1.xml", "<domain/>")
    run.remove("live/vm1.xml")
    assert synced == []
    assert visible_files(run) == {"status/vm1.json": "newer", "live/vm0.xml": "<domain/>"}
    assert leftover_entries(run) == []


def test_a_lone_change_without_durability_swaps_the_file_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replacing an existing file of a non-durable store swaps it with the staged one (no
    rename over it, which ext4 makes write the new data out at once); a new file, or a batch
    (whose journal may replay), is renamed into place."""
    run = StateStore(tmp_path / "run", durable=False)
    run.write_text("status/vm1.json", "old")
    renamed: list[str] = []
    real_replace = os.replace

    def replace(source: str, target: str) -> None:
        renamed.append(target)
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    run.write_text("status/vm1.json", "new")
    assert renamed == []
    assert run.read_text("status/vm1.json") == "new"
    assert leftover_entries(run) == []
    run.write_text("status/vm2.json", "created")
    with run.transaction() as batch:
        batch.write_text("status/vm1.json", "newer")
        batch.write_text("status/vm2.json", "two")
    assert [os.path.basename(p) for p in renamed] == ["vm2.json", "vm1.json", "vm2.json"]
    assert visible_files(run) == {"status/vm1.json": "newer", "status/vm2.json": "two"}


def test_a_lone_change_without_durability_never_swaps_a_folder_away(tmp_path: Path) -> None:
    run = StateStore(tmp_path / "run", durable=False)
    (run.directory / "status" / "vm1.json").mkdir(parents=True)
    (run.directory / "status" / "vm1.json" / "inside").write_text("kept")
    with pytest.raises(HostSystemError):
        run.write_text("status/vm1.json", "new")
    assert (run.directory / "status" / "vm1.json" / "inside").read_text() == "kept"
    assert leftover_entries(run) == []


def test_replace_by_exchange_needs_a_file_to_replace(tmp_path: Path) -> None:
    source, target = tmp_path / "new", tmp_path / "target"
    source.write_text("new")
    assert not replace_by_exchange(str(source), str(target))
    assert source.read_text() == "new" and not target.exists()
    target.mkdir()
    (target / "inside").write_text("kept")
    assert not replace_by_exchange(str(source), str(target))
    assert (target / "inside").read_text() == "kept"
    (target / "inside").unlink()
    target.rmdir()
    target.write_text("old")
    assert replace_by_exchange(str(source), str(target))
    assert target.read_text() == "new" and not source.exists()


def leftover_entries(store: StateStore) -> list[str]:
    staging = store.directory / ".staging"
    found = os.listdir(staging) if staging.is_dir() else []
    return found + [".journal"] * (store.directory / ".journal").exists()


def test_lock_is_reentrant_and_excludes_other_threads(store: StateStore) -> None:
    other = StateStore(store.directory)  # a second store on one folder shares the lock
    entered = threading.Event()

    def contender() -> None:
        with other.lock():
            entered.set()

    with store.lock(), store.lock():
        thread = threading.Thread(target=contender)
        thread.start()
        assert not entered.wait(0.2), "another thread got the lock while it was held"
    thread.join(5)
    assert entered.is_set()


def test_threads_incrementing_a_counter_lose_nothing(store: StateStore) -> None:
    def bump(times: int) -> None:
        for _ in range(times):
            with store.lock():
                store.write_text("counter", str(int(store.read_text("counter") or 0) + 1))

    threads = [threading.Thread(target=bump, args=(50,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.read_text("counter") == "200"


def test_unwritable_folder_is_reported(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(HostSystemError, match="cannot create the state folder .*file"):
        StateStore(tmp_path / "file" / "qemu")


def test_a_child_forked_while_the_lock_is_held_waits_for_it(store: StateStore) -> None:
    marker = store.directory / "child-ran"
    with store.lock():
        pid = os.fork()
        if pid == 0:  # the child: must not inherit the parent's hold on the lock
            try:
                with store.lock():
                    marker.write_text(str(store.read_text("value")))
            finally:
                os._exit(0)
        time.sleep(0.3)
        assert not marker.exists(), "the forked child got the lock the parent holds"
        store.write_text("value", "written under the parent's lock")
    deadline = time.monotonic() + 10
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child never got the lock after the parent released it")
        time.sleep(0.02)
    assert marker.read_text() == "written under the parent's lock"
