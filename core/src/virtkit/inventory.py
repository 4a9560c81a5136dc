"""What is installed, as ``virtkit plugins`` reports it: every allowed driver and extension
with its distribution, version and the operations it implements."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable

import attrs

from virtkit import hookspecs
from virtkit.plugins import DRIVER_GROUP, EXTENSION_GROUP, allowed, implemented_hooks

OPERATION_HOOK_PREFIXES = (
    "virtkit_connect_",
    "virtkit_domain_",
    "virtkit_snapshot_",
    "virtkit_migrate_",
)
EXTENSION_ONLY_HOOKS = frozenset({"virtkit_domain_hook"})


def operation_hooks() -> list[str]:
    """Every driver operation in the contract, in specification order."""
    names = [n for n in vars(hookspecs) if n.startswith(OPERATION_HOOK_PREFIXES)]
    return [n for n in names if n not in EXTENSION_ONLY_HOOKS]


@attrs.frozen(kw_only=True)
class PluginSummary:
    """One installed plugin as ``virtkit plugins`` lists it."""

    kind: str  # "driver" or "extension"
    name: str
    distribution: str
    version: str
    target: str
    hooks: tuple[str, ...]
    error: str | None = None


def installed_plugins() -> Iterable[PluginSummary]:
    """Every allowed driver and extension, imported to read the hooks each implements."""
    for kind, group in (("driver", DRIVER_GROUP), ("extension", EXTENSION_GROUP)):
        installed = allowed(importlib.metadata.entry_points(group=group))
        for ep in sorted(installed, key=lambda e: e.name):
            dist = ep.dist.metadata["Name"] if ep.dist else "?"
            version = ep.dist.version if ep.dist else "?"
            try:
                hooks, error = tuple(sorted(implemented_hooks(ep.load()))), None
            except Exception as exc:
                hooks, error = (), str(exc)
            yield PluginSummary(
                kind=kind,
                name=ep.name,
                distribution=dist,
                version=version,
                target=ep.value,
                hooks=hooks,
                error=error,
            )
