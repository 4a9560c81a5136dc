"""Fixtures shared by core's tests: throwaway plugin distributions on ``sys.path``, and the
schemas validation uses."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from stevedore import ExtensionManager, _cache
from virtkit.testing.conformance import corpus_root
from virtkit.xml.validate import SCHEMA_DIR_VAR

InstallPlugin = Callable[..., None]


@pytest.fixture
def install_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InstallPlugin]:
    """Make a throwaway distribution importable, as ``pip install`` would, without pip.

    ``install_plugin(dist, entry_points={group: {name: "module:attr"}}, modules={name: source})``
    writes each module and a ``<dist>-1.0.dist-info`` folder with its ``entry_points.txt`` under
    ``tmp_path/site``, which goes on ``sys.path`` for the test. The modules are forgotten after.
    """
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    # stevedore keeps the entry points it read for the life of the process (per group, and
    # per sys.path in the cache virtkit.plugins reads); start afresh.
    monkeypatch.setattr(ExtensionManager, "ENTRY_POINT_CACHE", {})
    monkeypatch.setattr(_cache._c, "_internal", {})
    modules_made: list[str] = []

    def install(
        dist: str,
        *,
        entry_points: dict[str, dict[str, str]],
        modules: dict[str, str] | None = None,
        version: str = "1.0",
    ) -> None:
        for module, source in (modules or {}).items():
            (site / f"{module}.py").write_text(textwrap.dedent(source))
            modules_made.append(module)
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        lines = []
        for group, names in entry_points.items():
            lines.append(f"[{group}]")
            lines.extend(f"{name} = {target}" for name, target in names.items())
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        importlib.invalidate_caches()
        ExtensionManager.ENTRY_POINT_CACHE.clear()
        _cache._c._internal.clear()

    yield install
    for module in modules_made:
        sys.modules.pop(module, None)


@pytest.fixture(autouse=True, scope="session")
def libvirt_schemas() -> Iterator[None]:
    """Validation in these tests is against libvirt 9.0's schemas, those of the conformance
    corpus (virtkit itself looks where libvirt installs them)."""
    patch = pytest.MonkeyPatch()
    patch.setenv(SCHEMA_DIR_VAR, str(corpus_root() / "schemas"))
    yield
    patch.undo()
