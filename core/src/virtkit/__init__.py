"""virtkit: manage virtual machines and containers with libvirt's API, URIs and domain XML.

>>> import virtkit
>>> with virtkit.open("test:///default") as conn:
...     [d.name() for d in conn.list_all_domains()]
['test']
"""

from __future__ import annotations

from virtkit.connection import Connection, default_uri, open, open_read_only
from virtkit.constants import *  # noqa: F403 - libvirt's enumerations are part of the API
from virtkit.domain import Domain
from virtkit.errors import VirtError
from virtkit.hookspecs import hookimpl
from virtkit.snapshot import Snapshot

__version__ = "0.1.0"

__all__ = [
    "Connection",
    "Domain",
    "Snapshot",
    "VirtError",
    "default_uri",
    "hookimpl",
    "open",
    "open_read_only",
]
