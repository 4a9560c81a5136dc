"""virtkit: manage virtual machines and containers with libvirt's API, URIs and domain XML.

>>> import virtkit
>>> with virtkit.open("test:///default") as conn:
...     [d.name() for d in conn.list_all_domains()]
['test']

The names below, and libvirt's enumerations of :mod:`virtkit.constants`, are imported on first
use (PEP 562), so that ``import virtkit`` and the CLI start without loading the whole API.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names __getattr__ provides, for type checkers
    from virtkit.connection import Connection as Connection
    from virtkit.connection import default_uri as default_uri
    from virtkit.connection import open as open
    from virtkit.connection import open_read_only as open_read_only
    from virtkit.constants import *  # noqa: F403 - libvirt's enumerations are part of the API
    from virtkit.domain import Domain as Domain
    from virtkit.errors import VirtError as VirtError
    from virtkit.hookspecs import hookimpl as hookimpl
    from virtkit.snapshot import Snapshot as Snapshot

__version__ = "0.1.0"

_EXPORTS = {
    "Connection": "virtkit.connection",
    "default_uri": "virtkit.connection",
    "open": "virtkit.connection",
    "open_read_only": "virtkit.connection",
    "Domain": "virtkit.domain",
    "Snapshot": "virtkit.snapshot",
    "VirtError": "virtkit.errors",
    "hookimpl": "virtkit.hookspecs",
}
"""Exported name -> the module defining it; any other public name comes from constants."""

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name.startswith("_"):
        raise AttributeError(f"module 'virtkit' has no attribute {name!r}")
    module = import_module(_EXPORTS.get(name, "virtkit.constants"))
    try:
        value = getattr(module, name)
    except AttributeError:
        raise AttributeError(f"module 'virtkit' has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    constants = import_module("virtkit.constants")
    return sorted({*globals(), *_EXPORTS, *(n for n in vars(constants) if not n.startswith("_"))})
