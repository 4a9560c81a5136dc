"""A folder of small text files (domain and snapshot XML) shared safely by processes and threads."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from virtkit.errors import HostSystemError, InvalidArgumentError
from virtkit.state.files import FOLDER_MODE, read_file, system_error
from virtkit.state.journal import recover
from virtkit.state.lock import file_lock
from virtkit.state.transaction import Transaction


class StateStore:
    """Files under ``directory``, named by relative paths such as ``"domains/vm1.xml"``.

    - Every change is atomic: a reader sees a file wholly old or wholly new, never partial, and
      a crash (even ``kill -9`` or power loss) at any moment leaves the previous content
      readable. Changes hold the store's lock, which excludes other processes and threads.
    - :meth:`transaction` groups changes: all are applied or none, across crashes too.
    - :meth:`read_text` and :meth:`list` take no lock; hold :meth:`lock` around several reads
      that must agree with each other, or around a read-modify-write.
    - Relative paths may not go up (``..``) or name hidden entries (``.x``, reserved for the
      store's lock, journal and staging area).
    - A durable store (the default) also survives power loss: a change is on disk when the call
      returns (a single file costs two fsyncs). A store made with ``durable=False`` never
      fsyncs; its changes stay atomic against a process crash but may be lost, rolled back or
      left empty by a power loss. Use it only for run-time state that means nothing after a
      reboot (pids, sockets, the status of running processes).
    - A durable store made with ``sync_folders=False`` writes a single file as libvirt does
      (content fsynced, then renamed; one fsync): a power loss still leaves it wholly old or
      wholly new, but may undo a change that had returned. Batches of several changes stay
      all-or-nothing and on disk when they return.

    :param directory: created with its parents when missing (the folder itself with ``mode``).
    :raises HostSystemError: the folder cannot be created.
    """

    def __init__(
        self,
        directory: Path,
        *,
        mode: int = FOLDER_MODE,
        durable: bool = True,
        sync_folders: bool = True,
    ) -> None:
        try:
            if not directory.is_dir():
                directory.mkdir(mode=mode, parents=True, exist_ok=True)
                os.chmod(directory, mode)  # mkdir's mode is filtered by the umask
        except OSError as exc:
            raise system_error("create the state folder", exc) from exc
        self.directory = directory.resolve()
        self._base = os.fspath(self.directory)
        self._lock_file = self.directory / ".lock"
        self.durable = durable
        self.sync_folders = sync_folders

    def __repr__(self) -> str:
        durability = "" if self.durable else ", durable=False"
        durability += "" if self.sync_folders else ", sync_folders=False"
        return f"StateStore({str(self.directory)!r}{durability})"

    # ------------------------------------------------------------------ locking

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the store exclusively (re-entrant in one thread). Taking it first finishes any
        change a crashed process left half-applied."""
        lock = file_lock(self._lock_file)
        outermost = lock.acquire()
        try:
            if outermost:
                recover(self.directory)
            yield
        finally:
            lock.release()

    @contextlib.contextmanager
    def transaction(self, *, sync_folders: bool | None = None) -> Iterator[Transaction]:
        """Hold the lock and collect changes; apply them all when the block ends normally,
        none when it raises. ``sync_folders`` overrides the store's own for this batch (see
        the class: ``False`` lets a power loss undo a lone change, never tear it)."""
        with self.lock():
            batch = Transaction(self)
            try:
                yield batch
            except BaseException:
                batch._discard()
                raise
            batch._commit(self.sync_folders if sync_folders is None else sync_folders)

    # ------------------------------------------------------------------ files

    def relative(self, relpath: str | os.PathLike[str]) -> str:
        """``relpath`` checked and normalised (``"a/b.xml"``).

        :raises InvalidArgumentError: empty, absolute, going up (``..``) or naming a hidden entry.
        """
        text = os.fspath(relpath)
        parts = [p for p in text.split("/") if p not in ("", ".")]
        if (
            not parts
            or text.startswith("/")
            or "\0" in text
            or any(p.startswith(".") for p in parts)
        ):
            raise InvalidArgumentError(
                f"state path {text!r} is not allowed in {self.directory}: it must be a relative "
                "path without '..' or hidden ('.'-prefixed) parts"
            )
        return "/".join(parts)

    def path(self, relpath: str | os.PathLike[str]) -> Path:
        """The absolute path of ``relpath`` (checked as :meth:`relative` does)."""
        return self.directory / self.relative(relpath)

    def _text_path(self, relpath: str | os.PathLike[str]) -> str:
        """:meth:`path` as text, for the hot reads (pathlib costs ~5 µs a use)."""
        return f"{self._base}/{self.relative(relpath)}"

    def read_text(self, relpath: str | os.PathLike[str]) -> str | None:
        """The file's text, or ``None`` when it does not exist."""
        path = self._text_path(relpath)
        try:
            data = read_file(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise system_error("read", exc) from exc
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise HostSystemError(f"cannot read {path}: it is not UTF-8 text ({exc})") from exc

    def exists(self, relpath: str | os.PathLike[str]) -> bool:
        """Whether the file (or folder) exists."""
        return os.path.exists(self._text_path(relpath))

    def write_text(self, relpath: str | os.PathLike[str], text: str) -> None:
        """Replace (or create) the file atomically, creating its folders."""
        with self.transaction() as batch:
            batch.write_text(os.fspath(relpath), text)

    def remove(self, relpath: str | os.PathLike[str]) -> bool:
        """Remove the file atomically; ``True`` if it existed."""
        with self.transaction() as batch:
            return batch.remove(os.fspath(relpath))

    def remove_tree(self, relpath: str | os.PathLike[str]) -> None:
        """Remove a folder and everything in it, atomically (it disappears in one rename)."""
        with self.transaction() as batch:
            batch.remove_tree(os.fspath(relpath))

    def list(self, reldir: str | os.PathLike[str] = "", suffix: str = ".xml") -> list[str]:
        """Sorted names of the files in ``reldir`` (``""``: the store's top) ending in
        ``suffix``, without it. With ``suffix=""``, every entry, folders included."""
        folder = self._base if os.fspath(reldir) in ("", ".") else self._text_path(reldir)
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise system_error("list", exc) from exc
        names = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if not suffix:
                names.append(entry.name)
            elif entry.name.endswith(suffix) and len(entry.name) > len(suffix) and entry.is_file():
                names.append(entry.name[: -len(suffix)])
        return sorted(names)
