"""Opening ``vbox:///session`` without VirtualBox (none is installed where these tests run)."""

from __future__ import annotations

from pathlib import Path

import pytest
import virtkit
from virtkit.errors import InvalidArgumentError, VirtError


def test_missing_vboxmanage_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("VIRTKIT_VBOXMANAGE", raising=False)
    with pytest.raises(VirtError, match="VBoxManage not found: install VirtualBox"):
        virtkit.open("vbox:///session")


def test_named_program_must_be_executable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VIRTKIT_VBOXMANAGE", str(tmp_path / "VBoxManage"))
    with pytest.raises(VirtError, match="VIRTKIT_VBOXMANAGE names .* not an executable"):
        virtkit.open("vbox:///session")


@pytest.mark.parametrize("uri", ["vbox:///system", "vbox://host/session", "vbox+ssh://h/session"])
def test_only_the_session_uri(uri: str) -> None:
    with pytest.raises(InvalidArgumentError, match="vbox:///session only"):
        virtkit.open(uri)


def test_driver_hooks_follow_the_contract() -> None:
    """Every hook is a specified one with specified arguments (pluggy checks at register)."""
    from virtkit.testing.contract import declared_hooks
    from virtkit_vbox.driver import VBoxDriver

    assert {
        "virtkit_domain_define",
        "virtkit_domain_shutdown",
        "virtkit_snapshot_revert",
        "virtkit_domain_managed_save",
        "virtkit_snapshot_list",
    } <= declared_hooks(VBoxDriver)
