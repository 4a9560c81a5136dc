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
