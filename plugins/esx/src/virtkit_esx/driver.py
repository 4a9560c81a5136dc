"""The ESX driver: VMware ESX, GSX and vCenter through the vSphere API (pyvmomi).

URIs and credentials: :mod:`virtkit_esx.options` and :mod:`virtkit.auth`. The hooks live in
:mod:`virtkit_esx.lifecycle`, :mod:`virtkit_esx.snapshot_hooks` and
:mod:`virtkit_esx.migration`, on top of :class:`virtkit_esx.base.ESXBase`.
"""

from __future__ import annotations

from typing import ClassVar

from virtkit_esx.lifecycle import LifecycleHooks
from virtkit_esx.migration import MigrationHooks
from virtkit_esx.snapshot_hooks import SnapshotHooks


class ESXDriver(LifecycleHooks, SnapshotHooks, MigrationHooks):
    """Serves ``esx://``, ``gsx://`` and ``vpx://``: one vSphere session per connection."""

    name: ClassVar[str] = "ESX"
