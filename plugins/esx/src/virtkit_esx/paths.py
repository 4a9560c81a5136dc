"""File names between ``.vmx`` form (``/vmfs/volumes/<ds>/<path>``, or relative to the VM's
folder) and libvirt's datastore form (``[<ds>] <path>``)."""

from __future__ import annotations

import re
from collections.abc import Callable

import attrs

from virtkit_esx.vmxfile import VMXError

_DATASTORE_PATH = re.compile(r"^\[([^\]]+)\] ?(.*)$")
VOLUMES = "/vmfs/volumes/"


class MissingFileError(VMXError):
    """A file named in a ``.vmx`` is not on any datastore."""


def split_datastore_path(path: str) -> tuple[str, str]:
    """``[ds] dir/file.vmdk`` as ``("ds", "dir/file.vmdk")``."""
    match = _DATASTORE_PATH.match(path)
    if match is None:
        raise VMXError(f"'{path}' is not a datastore path of the form '[datastore] path'")
    return match.group(1), match.group(2)


@attrs.frozen(kw_only=True)
class PathMapper:
    """How one VM's file names translate.

    :ivar datastore: the datastore holding the VM's ``.vmx``; None when unknown (a ``.vmx``
        converted on its own), and bare file names then stay as they are.
    :ivar directory: the VM's folder on it (bare file names in the ``.vmx`` are there).
    :ivar exists: whether a datastore path exists (a hard disk that does not is an error).
    """

    datastore: str | None
    directory: str
    exists: Callable[[str, str], bool] = lambda datastore, path: True

    def from_vmx(self, name: str) -> str:
        """A ``.vmx`` file name as a datastore path (absolute names outside datastores stay)."""
        if name.startswith(VOLUMES):
            datastore, _, path = name[len(VOLUMES) :].partition("/")
        elif name.startswith("/"):
            return name
        elif "/" in name:
            raise VMXError(f"file name '{name}' is relative but not in the VM's folder")
        elif self.datastore is None:
            return name
        else:
            datastore, path = self.datastore, f"{self.directory}/{name}" if self.directory else name
        if not self.exists(datastore, path):
            raise MissingFileError(f"file '{name}' is not on datastore '{datastore}'")
        return f"[{datastore}] {path}"

    @staticmethod
    def to_vmx(path: str) -> str:
        """A datastore path (or an absolute file name) as the ``.vmx`` writes it."""
        if path.startswith("/"):
            return path
        datastore, rest = split_datastore_path(path)
        return f"{VOLUMES}{datastore}/{rest}"
