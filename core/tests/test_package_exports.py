"""``import virtkit`` is cheap, and every name it exports is there when first used."""

from __future__ import annotations

import subprocess
import sys

import pytest
import virtkit
from virtkit import constants


def test_import_virtkit_loads_no_submodule() -> None:
    probe = "import sys, virtkit; print(sorted(m for m in sys.modules if m.startswith('virtkit.')))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout) == (0, "[]\n"), result.stderr


@pytest.mark.parametrize("name", virtkit.__all__)
def test_every_export_resolves_to_its_module(name: str) -> None:
    value = getattr(virtkit, name)
    module = virtkit._EXPORTS[name]
    assert value is getattr(sys.modules[module], name)


def test_libvirt_enumerations_are_exported() -> None:
    assert virtkit.DomainState.RUNNING is constants.DomainState.RUNNING
    assert virtkit.REASONS is constants.REASONS
    assert "DomainMigrateFlags" in dir(virtkit)
    assert {"open", "Connection", "hookimpl"} <= set(dir(virtkit))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        _ = virtkit.NoSuchThing
    with pytest.raises(AttributeError, match="no attribute '_private'"):
        _ = virtkit._private
    assert not hasattr(virtkit, "__wrapped__")
