"""Committing a batch of changes to a state folder so that it is applied entirely or not at all.

Layout inside the folder (names starting with a dot are reserved for the store):

- ``.staging/``: new file contents, written and fsynced before anything visible changes;
- ``.journal``: the plan of a batch of more than one change, written atomically (the commit
  point); while it exists the batch is being applied;
- ``.trash/``: folders removed by a batch, renamed here and deleted once the batch is done.

A crash before the journal exists leaves the old state (staged files are garbage, which the next
process to take the lock deletes); a crash after it is rolled forward by :func:`recover`, which
the store runs whenever it takes its lock. Every step of :func:`apply` can be repeated, so a
crash during recovery is recovered again. Each file is replaced by ``rename(2)`` (a lone
non-durable change swaps it in instead, see :func:`apply`), so on its own it is always either
wholly old or wholly new.

Durable batches survive power loss: staged contents are fsynced before the commit point, and the
folders whose entries changed are fsynced before :func:`commit` returns. A single file costs two
fsyncs (its content, then its folder); its now-empty staging entry needs none, since a staging
entry that reappears after a crash is a leftover :func:`recover` deletes. Without
``sync_folders``, a durable change of a single entry (no journal) skips the folder's fsync, as
libvirt's ``virFileRewrite`` does: its content is on disk before the rename, so a power loss
leaves the entry wholly old or wholly new, but may undo the change; a journaled batch still
syncs every folder, since its all-or-nothing across power loss rests on them. Non-durable
batches (for run-time folders that mean nothing after a reboot) skip every fsync: they stay
atomic against a process crash, not against power loss.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import attrs

from virtkit.errors import HostSystemError
from virtkit.state.files import (
    fsync_folder,
    make_folders,
    read_file,
    replace_by_exchange,
    sync_file,
    system_error,
    write_new_file,
)

JOURNAL = ".journal"
STAGING = ".staging"
TRASH = ".trash"


@attrs.frozen(kw_only=True)
class Plan:
    """What a batch changes, applied in this order: folders removed, files removed, files
    written. The batch is normalised so that no two steps touch the same path."""

    trees: tuple[tuple[str, str], ...] = ()
    """(relative path, name in ``.trash``) of each folder removed."""
    removes: tuple[str, ...] = ()
    """relative paths of the files removed."""
    writes: tuple[tuple[str, str], ...] = ()
    """(relative path, name in ``.staging``) of each file written."""

    def to_json(self) -> str:
        return json.dumps(
            {"trees": self.trees, "removes": self.removes, "writes": self.writes}, indent=1
        )

    @classmethod
    def from_json(cls, text: str) -> Plan:
        data = json.loads(text)
        return cls(
            trees=tuple((p, t) for p, t in data["trees"]),
            removes=tuple(data["removes"]),
            writes=tuple((p, s) for p, s in data["writes"]),
        )


def stage(root: Path, name: str, text: str, *, durable: bool) -> None:
    """Write ``text`` into the staging area as ``name`` (the caller holds the store's lock);
    when ``durable``, its write-back starts now and :func:`commit` waits for it, so that what
    the caller does in between overlaps the disk's work. Makes the staging folder if missing."""
    path = f"{os.fspath(root)}/{STAGING}/{name}"
    data = text.encode("utf-8")
    try:
        try:
            write_new_file(path, data, durable=durable, wait=False)
        except FileNotFoundError:
            make_folders(os.path.dirname(path))
            write_new_file(path, data, durable=durable, wait=False)
    except OSError as exc:
        raise system_error("stage a change to the state", exc) from exc


def unstage(root: Path, names: Iterable[str]) -> None:
    """Delete the staged files ``names`` (of a batch given up); one that cannot be deleted
    is left for :func:`recover`."""
    for name in names:
        with contextlib.suppress(OSError):
            os.unlink(f"{os.fspath(root)}/{STAGING}/{name}")


def commit(
    root: Path,
    txid: str,
    writes: dict[str, str],
    removes: set[str],
    trees: list[str],
    *,
    durable: bool = True,
    sync_folders: bool = True,
) -> None:
    """Apply a normalised batch to ``root`` (the caller holds the store's lock): ``writes``
    maps each relative path written to its file staged by :func:`stage`, ``txid`` names the
    batch's journal and trash entries; ``durable`` and ``sync_folders``: fsync as the module
    says.

    Failures before the commit point (a file where a folder should be, a failing disk) leave
    everything as it was, the staged files deleted.
    """
    base = os.fspath(root)
    staging = f"{base}/{STAGING}"
    journal = len(writes) + len(removes) + len(trees) > 1
    try:
        if journal:  # a lone write finds these problems when it renames, undoing nothing
            for rel in writes:
                target = f"{base}/{rel}"
                if os.path.isdir(target) and not any(is_within(rel, tree) for tree in trees):
                    raise HostSystemError(f"cannot write {target}: it is a folder")
                make_folders(os.path.dirname(target))
        for rel in removes:
            if os.path.isdir(f"{base}/{rel}"):
                raise HostSystemError(f"cannot remove {base}/{rel} as a file: it is a folder")
        if durable:
            for name in writes.values():
                sync_file(f"{staging}/{name}")
        plan = Plan(
            trees=tuple((rel, f"{txid}-{i}") for i, rel in enumerate(trees)),
            removes=tuple(sorted(removes)),
            writes=tuple(writes.items()),
        )
        if journal:
            if plan.trees:
                make_folders(f"{base}/{TRASH}")
            draft = f"{staging}/{txid}-journal"
            write_new_file(draft, plan.to_json().encode("utf-8"), durable=durable)
            if durable:
                fsync_folder(staging)
            os.rename(draft, f"{base}/{JOURNAL}")  # the commit point
            if durable:
                fsync_folder(base)
    except BaseException as exc:
        unstage(root, [*writes.values(), f"{txid}-journal"])
        if isinstance(exc, OSError):
            raise system_error("stage a change to the state", exc) from exc
        raise
    try:
        if plan.trees and not journal:
            make_folders(f"{base}/{TRASH}")
        apply(
            root,
            plan,
            durable=durable and (journal or sync_folders),
            swap=not (durable or journal),
        )
        if journal:
            os.unlink(f"{base}/{JOURNAL}")
            if durable:
                fsync_folder(base)
    except OSError as exc:
        if not journal:  # a lone change that failed: nothing to finish later
            unstage(root, writes.values())
        raise system_error("apply a committed change to the state", exc) from exc
    for _, trash in plan.trees:
        shutil.rmtree(f"{base}/{TRASH}/{trash}", ignore_errors=True)


def apply(root: Path, plan: Plan, *, durable: bool = True, swap: bool = False) -> None:
    """Carry out ``plan``; steps already done are skipped, so this can run again after a crash.
    ``durable``: fsync the folders whose entries changed (staging excepted, see the module).
    ``swap``: replace existing files by :func:`~virtkit.state.files.replace_by_exchange`, for
    a change that is neither durable nor journaled (a replay would swap the old content back,
    so no journal may name it; its leftover is a staged file that recovery drops)."""
    base = os.fspath(root)
    touched: set[str] = set()
    for rel, trash in plan.trees:
        source, parked = f"{base}/{rel}", f"{base}/{TRASH}/{trash}"
        # Once parked, the trash entry exists until the journal is gone: never move twice.
        if not os.path.lexists(parked) and os.path.lexists(source):
            os.rename(source, parked)
            touched.update((os.path.dirname(source), os.path.dirname(parked)))
    for rel in plan.removes:
        target = f"{base}/{rel}"
        try:
            os.unlink(target)
        except FileNotFoundError:
            continue
        touched.add(os.path.dirname(target))
    for rel, name in plan.writes:
        source, target = f"{base}/{STAGING}/{name}", f"{base}/{rel}"
        folder = os.path.dirname(target)
        if swap and replace_by_exchange(source, target):
            continue  # (no folder to fsync: a swap is never durable)
        try:
            os.replace(source, target)
        except FileNotFoundError:
            if not os.path.lexists(source):
                continue  # moved there by an earlier run of this plan
            make_folders(folder)
            os.replace(source, target)
        touched.add(folder)
    if durable:
        for folder in touched:
            fsync_folder(folder)


def recover(root: Path) -> None:
    """Finish a batch a crash interrupted and drop the leftovers of unfinished ones (the caller
    holds the store's lock, so nothing else is staging).

    The journal is looked for each time; leftovers (staged files and trash of processes that
    died) are harmless to the state, so they are looked for only at this process's first
    recovery of ``root`` and after finishing a journal, which spares every change the listing
    of two folders."""
    base = os.fspath(root)
    if _finish_journal(root, base) or base not in _SWEPT:
        _drop_leftovers(base)
        _SWEPT.add(base)


_SWEPT: set[str] = set()
"""The folders whose leftovers this process has dropped."""


def _finish_journal(root: Path, base: str) -> bool:
    """Apply and remove the journal a crash left; whether there was one."""
    journal = f"{base}/{JOURNAL}"
    try:
        data = read_file(journal)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise system_error("read the state journal", exc) from exc
    try:
        plan = Plan.from_json(data.decode("utf-8"))
    except (ValueError, KeyError, TypeError) as exc:
        raise HostSystemError(
            f"state journal {journal} is damaged ({exc}): inspect the folder, then delete "
            "the journal to keep the state as it is"
        ) from exc
    try:
        apply(root, plan)
        os.unlink(journal)
        fsync_folder(base)
    except OSError as exc:
        raise system_error("finish an interrupted change to the state", exc) from exc
    return True


def _drop_leftovers(base: str) -> None:
    """Delete what died processes left in the staging area and the trash."""
    for leftovers in (f"{base}/{STAGING}", f"{base}/{TRASH}"):
        try:
            entries = list(os.scandir(leftovers))
        except FileNotFoundError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)


def is_within(rel: str, folder: str) -> bool:
    """Whether relative path ``rel`` is ``folder`` or inside it."""
    return rel == folder or rel.startswith(folder + "/")
