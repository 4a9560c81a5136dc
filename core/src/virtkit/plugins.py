"""Finding and loading plugins: one driver per connection by URI scheme, plus extensions.

Drivers are entry points of group ``virtkit.drivers`` named after the scheme they serve;
only the one named by the URI is imported (stevedore's ``DriverManager``). Extensions are
entry points of group ``virtkit.plugins``. Operators choose with two environment variables,
each a comma-separated list of entry-point names that applies to drivers (named by scheme) and
extensions alike:

- ``VIRTKIT_LOAD_PLUGINS``: load only these (list the driver's scheme too; set but empty, it
  loads nothing, so every open fails naming it);
- ``VIRTKIT_DISABLE_PLUGINS``: never load these (it wins over ``VIRTKIT_LOAD_PLUGINS``).

Extension objects a program passes to ``virtkit.open(extensions=...)`` are not entry points
and are not filtered.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, cast

import pluggy

from virtkit import hookspecs
from virtkit.errors import NoConnectError, VirtError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

DRIVER_GROUP = "virtkit.drivers"
EXTENSION_GROUP = "virtkit.plugins"
LOAD_VAR = "VIRTKIT_LOAD_PLUGINS"
DISABLE_VAR = "VIRTKIT_DISABLE_PLUGINS"

DISTRIBUTION_FOR_SCHEME = {
    "test": "virtkit",
    "qemu": "virtkit-qemu",
    "lxc": "virtkit-lxc",
    "xen": "virtkit-xen",
    "esx": "virtkit-esx",
    "gsx": "virtkit-esx",
    "vpx": "virtkit-esx",
    "hyperv": "virtkit-hyperv",
    "vbox": "virtkit-vbox",
}
"""Which distribution provides the drivers shipped from this repository."""

HOOK_PREFIX = f"{hookspecs.PROJECT}_"
"""Every hook, specification and implementation, is named ``virtkit_<operation>``."""


def _names_from_env(var: str) -> set[str] | None:
    value = os.environ.get(var)
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def blocked_by(name: str) -> str | None:
    """The environment variable that keeps plugin ``name`` from loading, or ``None``."""
    if name in (_names_from_env(DISABLE_VAR) or set()):
        return DISABLE_VAR
    allowed = _names_from_env(LOAD_VAR)
    if allowed is not None and name not in allowed:
        return LOAD_VAR
    return None


def allowed(installed: Iterable[EntryPoint]) -> list[EntryPoint]:
    """The entry points of ``installed`` that the environment allows."""
    return [ep for ep in installed if blocked_by(ep.name) is None]


def entry_points(group: str) -> list[EntryPoint]:
    """The installed entry points of ``group`` that the environment allows, without their
    distributions (``ep.dist`` is ``None``).

    They come from stevedore's entry-point cache, which its ``DriverManager`` reads too: one
    file per state of ``sys.path``, instead of the metadata of every installed distribution
    (a few milliseconds at each open). stevedore offers it only as this module.
    """
    from stevedore import _cache

    return allowed(_cache.get_group_all(group))


def missing_driver_message(driver: str) -> str:
    dist = DISTRIBUTION_FOR_SCHEME.get(driver, f"virtkit-{driver}")
    return (
        f"no virtkit driver is installed for URI scheme '{driver}': "
        f"install the distribution that provides it (pip install {dist})"
    )


def _refuse_conflict(namespace: str, name: str, candidates: list[Any]) -> Any:
    sources = ", ".join(sorted(str(ext.entry_point.value) for ext in candidates))
    raise NoConnectError(
        f"several plugins claim URI scheme '{name}' ({sources}): uninstall all but one"
    )


def load_driver_class(driver: str) -> type[Any]:
    """Import and return the driver class for scheme ``driver``, and nothing else."""
    from stevedore import DriverManager
    from stevedore.exception import NoMatches

    blocker = blocked_by(driver)
    if blocker is not None:
        raise NoConnectError(
            f"the driver for URI scheme '{driver}' is disabled by {blocker}='{os.environ[blocker]}'"
        )
    try:
        manager = DriverManager(
            DRIVER_GROUP,
            driver,
            on_missing_entrypoints_callback=None,
            conflict_resolver=_refuse_conflict,
        )
    except NoMatches:
        raise NoConnectError(missing_driver_message(driver)) from None
    except VirtError:
        raise
    except Exception as exc:  # an installed plugin that fails to import
        raise NoConnectError(f"the driver for URI scheme '{driver}' failed to load: {exc}") from exc
    return cast(type[Any], manager.driver)


def load_extensions() -> Iterator[tuple[str, Any]]:
    """Import every allowed extension plugin; yield ``(name, plugin object)``."""
    for ep in entry_points(EXTENSION_GROUP):
        try:
            yield ep.name, ep.load()
        except Exception as exc:
            raise VirtError(
                f"extension plugin '{ep.name}' ({ep.value}) failed to load: {exc}"
            ) from exc


class _PluginManager(pluggy.PluginManager):
    """pluggy's manager, looking for hooks only among the ``virtkit_*`` names.

    pluggy reads each attribute of a plugin statically, tens of microseconds apiece, and a
    driver has a hundred or more; only those named ``virtkit_*`` can be hooks (a misspelt
    ``virtkit_*`` hook still fails :meth:`check_pending`).
    """

    def parse_hookimpl_opts(self, plugin: object, name: str) -> pluggy.HookimplOpts | None:
        if not name.startswith(HOOK_PREFIX):
            return None
        return super().parse_hookimpl_opts(plugin, name)


def new_plugin_manager() -> pluggy.PluginManager:
    """A plugin manager holding only virtkit's hook specifications."""
    pm = _PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def implemented_hooks(plugin: object) -> set[str]:
    """Names of the hooks a plugin object or class implements (read from the hookimpl marks)."""
    marker = f"{hookspecs.PROJECT}_impl"
    hooks = set()
    for attr in dir(plugin):
        if attr.startswith(HOOK_PREFIX) and hasattr(getattr(plugin, attr, None), marker):
            hooks.add(attr)
    return hooks
