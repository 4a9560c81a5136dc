"""Where a driver keeps its files for a connection URI, as libvirt lays them out.

- ``/system``: ``/etc/virtkit/<driver>`` (config), ``/var/lib/virtkit/<driver>`` (state),
  ``/run/virtkit/<driver>`` (runtime), ``/var/cache/virtkit/<driver>`` (cache).
- ``/session``: the user's XDG folders: ``$XDG_CONFIG_HOME`` (``~/.config``),
  ``$XDG_DATA_HOME`` (``~/.local/share``), ``$XDG_RUNTIME_DIR`` and ``$XDG_CACHE_HOME``
  (``~/.cache``), each with ``virtkit/<driver>``; without ``XDG_RUNTIME_DIR`` the runtime folder
  is the cache folder's ``run``.
- ``/embed?root=DIR``: a self-contained root: ``DIR/etc``, ``DIR/lib``, ``DIR/run``,
  ``DIR/cache``.
"""

from __future__ import annotations

import os
from pathlib import Path

import attrs

from virtkit.errors import InvalidArgumentError
from virtkit.uri import ConnectURI

ACCEPTED_PATHS = ("/system", "/session", "/embed?root=DIR")


@attrs.frozen(kw_only=True)
class StateRoots:
    """The folders a driver's files live in for one URI.

    :ivar config_dir: persistent configuration (domain XML, autostart links).
    :ivar state_dir: persistent state (snapshot metadata, managed save images).
    :ivar run_dir: what exists only while the host runs (PID files, sockets, live XML).
    :ivar cache_dir: what can be found again if lost (the emulator's capabilities).
    """

    config_dir: Path
    state_dir: Path
    run_dir: Path
    cache_dir: Path


def xdg_folder(var: str, default: str) -> Path:
    """The XDG base folder named by the variable ``var`` (``XDG_CONFIG_HOME``...), else
    ``default`` in the home folder."""
    value = os.environ.get(var)
    # The XDG specification says a relative value is invalid and must be ignored.
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / default


def state_roots(uri: ConnectURI, driver: str) -> StateRoots:
    """The folders of driver ``driver`` (``"qemu"``, ``"lxc"``...) for ``uri``'s path.

    :raises InvalidArgumentError: the path is not one of :data:`ACCEPTED_PATHS`, or the embed
        root is missing or relative.
    """
    if uri.path == "/system":
        return StateRoots(
            config_dir=Path("/etc/virtkit") / driver,
            state_dir=Path("/var/lib/virtkit") / driver,
            run_dir=Path("/run/virtkit") / driver,
            cache_dir=Path("/var/cache/virtkit") / driver,
        )
    if uri.path == "/session":
        runtime = os.environ.get("XDG_RUNTIME_DIR")
        cache_dir = xdg_folder("XDG_CACHE_HOME", ".cache") / "virtkit" / driver
        run_dir = (
            Path(runtime) / "virtkit" / driver
            if runtime and os.path.isabs(runtime)
            else cache_dir / "run"
        )
        return StateRoots(
            config_dir=xdg_folder("XDG_CONFIG_HOME", ".config") / "virtkit" / driver,
            state_dir=xdg_folder("XDG_DATA_HOME", ".local/share") / "virtkit" / driver,
            run_dir=run_dir,
            cache_dir=cache_dir,
        )
    if uri.path == "/embed":
        root = uri.param("root")
        if not root:
            raise InvalidArgumentError(
                f"connection URI '{uri}' has no root: an embedded driver needs "
                f"'{uri.scheme}:///embed?root=DIR' with DIR an absolute folder"
            )
        if not os.path.isabs(root):
            raise InvalidArgumentError(
                f"connection URI '{uri}': embed root '{root}' must be an absolute path"
            )
        base = Path(os.path.normpath(root))
        return StateRoots(
            config_dir=base / "etc",
            state_dir=base / "lib",
            run_dir=base / "run",
            cache_dir=base / "cache",
        )
    accepted = ", ".join(f"{uri.scheme}://{p}" for p in ACCEPTED_PATHS)
    raise InvalidArgumentError(
        f"unexpected path '{uri.path}' in connection URI '{uri}': the {driver} driver accepts "
        f"{accepted}"
    )
