"""A durable store made with ``sync_folders=False`` writes a single file as libvirt's
``virFileRewrite`` does: the content is fsynced before the rename that puts it in place, and no
folder is fsynced after; a batch of several changes stays fully durable (its all-or-nothing
across power loss rests on the folder fsyncs)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from virtkit.state import StateStore


def record_syscalls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record ``fsync file``, ``fsync folder`` and ``rename <name>`` in the order they happen."""
    calls: list[str] = []
    real_fsync, real_replace, real_rename = os.fsync, os.replace, os.rename

    def fsync(fd: int) -> None:
        calls.append("fsync " + ("folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"))
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        calls.append(f"rename {os.path.basename(dst)}")
        real_replace(src, dst)

    def rename(src: str, dst: str) -> None:
        calls.append(f"rename {os.path.basename(dst)}")
        real_rename(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "rename", rename)
    return calls


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    store = StateStore(tmp_path / "etc", sync_folders=False)
    store.write_text("domains/vm1.xml", "old")  # folders made (and synced) beforehand
    return store


def test_a_single_write_fsyncs_its_content_before_the_rename_and_no_folder(
    store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = record_syscalls(monkeypatch)
    store.write_text("domains/vm1.xml", "new")
    assert calls == ["fsync file", "rename vm1.xml"]
    assert store.read_text("domains/vm1.xml") == "new"
    calls.clear()
    assert store.remove("domains/vm1.xml")
    assert calls == []  # an unlink: atomic by itself, and not synced
    assert store.read_text("domains/vm1.xml") is None


def test_a_batch_still_syncs_every_folder(
    store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = record_syscalls(monkeypatch)
    with store.transaction() as batch:
        batch.write_text("domains/vm1.xml", "newer")
        batch.write_text("domains/vm2.xml", "two")
    # both contents and the journal, the staging folder, the commit point, the renamed
    # files' folder, then the journal's removal
    assert calls[:3] == ["fsync file"] * 3
    assert calls[3:6] == ["fsync folder", "rename .journal", "fsync folder"]
    assert sorted(calls[6:8]) == ["rename vm1.xml", "rename vm2.xml"]
    assert calls[8:] == ["fsync folder", "fsync folder"]
    assert store.read_text("domains/vm1.xml") == "newer"
    assert store.read_text("domains/vm2.xml") == "two"


def test_a_failed_write_leaves_the_old_file_and_no_leftover(
    store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(Exception, match="No space left on device"):
        store.write_text("domains/vm1.xml", "new")
    assert store.read_text("domains/vm1.xml") == "old"
    assert os.listdir(store.directory / ".staging") == []
    assert "sync_folders=False" in repr(store)


def test_one_batch_can_leave_the_folders_of_a_syncing_store_unsynced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``transaction(sync_folders=False)`` on a store that syncs its folders: a lone write as
    above; the store's other changes still sync their folder."""
    syncing = StateStore(tmp_path / "state")
    syncing.write_text("snapshots/vm1/current", "s1")
    calls = record_syscalls(monkeypatch)
    with syncing.transaction(sync_folders=False) as batch:
        batch.write_text("snapshots/vm1/current", "s2")
    assert calls == ["fsync file", "rename current"]
    calls.clear()
    syncing.write_text("snapshots/vm1/current", "s3")
    assert calls == ["fsync file", "rename current", "fsync folder"]
    assert syncing.read_text("snapshots/vm1/current") == "s3"
