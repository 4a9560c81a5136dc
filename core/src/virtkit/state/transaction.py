"""A batch of writes and removes that a :class:`~virtkit.state.StateStore` applies together."""

from __future__ import annotations

import functools
import itertools
import os
import uuid
from typing import TYPE_CHECKING

from virtkit.state.journal import commit, is_within, stage, unstage

if TYPE_CHECKING:
    from virtkit.state.store import StateStore


class Transaction:
    """Changes recorded here touch nothing until the ``with store.transaction()`` block ends
    without an exception; then all of them are applied, or none (see :mod:`virtkit.state.journal`).

    Reads through the transaction see its own pending changes. A file written is staged at
    once, on its way to the disk while the block goes on; the end of the block waits for it.
    """

    def __init__(self, store: StateStore) -> None:
        self._store = store
        self._names = itertools.count()
        self._writes: dict[str, str] = {}
        """relative path -> the text written"""
        self._staged: dict[str, str] = {}
        """relative path -> the name of its staged file"""
        self._removes: set[str] = set()
        self._trees: list[str] = []

    @functools.cached_property
    def _id(self) -> str:
        """The batch's name, which its staged files, journal and trash entries start with."""
        return uuid.uuid4().hex

    def read_text(self, relpath: str) -> str | None:
        """The file's text as it will be after the batch; ``None`` when absent."""
        rel = self._store.relative(relpath)
        if rel in self._writes:
            return self._writes[rel]
        if rel in self._removes or self._under_removed_tree(rel):
            return None
        return self._store.read_text(rel)

    def write_text(self, relpath: str, text: str) -> None:
        """Replace (or create) the file with ``text``.

        :raises HostSystemError: its content cannot be staged (a full disk, say).
        """
        rel = self._store.relative(relpath)
        name = f"{self._id}-{next(self._names)}"
        stage(self._store.directory, name, text, durable=self._store.durable)
        self._removes.discard(rel)
        self._drop_write(rel)
        self._writes[rel] = text
        self._staged[rel] = name

    def remove(self, relpath: str) -> bool:
        """Remove the file; ``True`` if it exists as the batch stands."""
        rel = self._store.relative(relpath)
        existed = self._drop_write(rel)
        if not self._under_removed_tree(rel) and os.path.lexists(self._store.directory / rel):
            existed = existed or rel not in self._removes
            self._removes.add(rel)
        return existed

    def remove_tree(self, relpath: str) -> None:
        """Remove the folder (or file) and everything in it, including writes staged in it."""
        rel = self._store.relative(relpath)
        for written in [p for p in self._writes if is_within(p, rel)]:
            self._drop_write(written)
        self._removes = {p for p in self._removes if not is_within(p, rel)}
        if not self._under_removed_tree(rel) and os.path.lexists(self._store.directory / rel):
            self._trees = [t for t in self._trees if not is_within(t, rel)] + [rel]

    def _under_removed_tree(self, rel: str) -> bool:
        return any(is_within(rel, tree) for tree in self._trees)

    def _drop_write(self, rel: str) -> bool:
        """Forget the write of ``rel`` and its staged file; whether there was one."""
        name = self._staged.pop(rel, None)
        if name is None:
            return False
        del self._writes[rel]
        unstage(self._store.directory, [name])
        return True

    def _discard(self) -> None:
        """Give the batch up: delete what it staged."""
        unstage(self._store.directory, self._staged.values())
        self._writes.clear()
        self._staged.clear()

    def _commit(self, sync_folders: bool) -> None:
        if self._staged or self._removes or self._trees:
            commit(
                self._store.directory,
                self._id,
                self._staged,
                self._removes,
                self._trees,
                durable=self._store.durable,
                sync_folders=sync_folders,
            )
