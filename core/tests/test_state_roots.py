"""Where each URI keeps its files: /system, /session (XDG), /embed?root=DIR."""

from __future__ import annotations

from pathlib import Path

import pytest
from virtkit.errors import InvalidArgumentError
from virtkit.state import StateRoots, state_roots
from virtkit.uri import ConnectURI


def roots(uri: str) -> StateRoots:
    return state_roots(ConnectURI.parse(uri), "qemu")


def test_system_uses_etc_var_lib_and_run() -> None:
    assert roots("qemu:///system") == StateRoots(
        config_dir=Path("/etc/virtkit/qemu"),
        state_dir=Path("/var/lib/virtkit/qemu"),
        run_dir=Path("/run/virtkit/qemu"),
        cache_dir=Path("/var/cache/virtkit/qemu"),
    )


def test_session_follows_xdg_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "rt"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert roots("qemu:///session") == StateRoots(
        config_dir=tmp_path / "cfg/virtkit/qemu",
        state_dir=tmp_path / "data/virtkit/qemu",
        run_dir=tmp_path / "rt/virtkit/qemu",
        cache_dir=tmp_path / "cache/virtkit/qemu",
    )


def test_session_defaults_to_home_and_cache_without_runtime_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/is/ignored")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert roots("qemu:///session") == StateRoots(
        config_dir=tmp_path / ".config/virtkit/qemu",
        state_dir=tmp_path / ".local/share/virtkit/qemu",
        run_dir=tmp_path / ".cache/virtkit/qemu/run",
        cache_dir=tmp_path / ".cache/virtkit/qemu",
    )


def test_embed_uses_the_given_root(tmp_path: Path) -> None:
    assert roots(f"qemu:///embed?root={tmp_path}/vm/") == StateRoots(
        config_dir=tmp_path / "vm/etc",
        state_dir=tmp_path / "vm/lib",
        run_dir=tmp_path / "vm/run",
        cache_dir=tmp_path / "vm/cache",
    )


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("qemu:///embed", "has no root"),
        ("qemu:///embed?root=", "has no root"),
        ("qemu:///embed?root=rel/dir", "embed root 'rel/dir' must be an absolute path"),
        ("qemu:///default", "unexpected path '/default'"),
        ("qemu:///system/", "unexpected path '/system/'"),
        ("qemu://", "unexpected path ''"),
    ],
)
def test_bad_paths_are_refused_with_what_is_accepted(uri: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message) as info:
        roots(uri)
    assert uri.split("?")[0] in str(info.value)
    if "unexpected" in message:
        assert "qemu:///system, qemu:///session, qemu:///embed?root=DIR" in str(info.value)
