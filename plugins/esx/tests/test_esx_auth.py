"""virtkit.auth: libvirt's auth.conf lookup, as the ESX driver uses it."""

from __future__ import annotations

from pathlib import Path

import pytest
from virtkit.auth import AuthError, credentials
from virtkit.errors import ErrorCode

CONF = """\
[credentials-lab]
authname=admin
password=lab-secret

[credentials-other]
authname=root
password=other-secret

[auth-esx-vc.example.com]
credentials=lab

[auth-esx-default]
credentials=other
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture
def conf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = _write(tmp_path, "auth.conf", CONF)
    monkeypatch.setenv("VIRTKIT_AUTH_FILE", str(path))
    monkeypatch.delenv("LIBVIRT_AUTH_FILE", raising=False)
    return path


def test_host_section_then_default(conf: Path) -> None:
    found = credentials("esx", "vc.example.com", None)
    assert (found.username, found.password) == ("admin", "lab-secret")
    other = credentials("esx", "elsewhere", None)
    assert (other.username, other.password) == ("root", "other-secret")
    assert "secret" not in repr(found)


def test_virtkit_file_comes_before_libvirt_file(
    conf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    libvirt_conf = _write(tmp_path, "libvirt.conf", CONF.replace("lab-secret", "from-libvirt"))
    monkeypatch.setenv("LIBVIRT_AUTH_FILE", str(libvirt_conf))
    assert credentials("esx", "vc.example.com", None).password == "lab-secret"
    monkeypatch.delenv("VIRTKIT_AUTH_FILE")
    assert credentials("esx", "vc.example.com", None).password == "from-libvirt"


def test_missing_credentials_section_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, "auth.conf", "[auth-esx-default]\ncredentials=nowhere\n")
    monkeypatch.setenv("VIRTKIT_AUTH_FILE", str(path))
    with pytest.raises(AuthError, match=r"\[credentials-nowhere\]") as info:
        credentials("esx", "h", None)
    assert info.value.code == ErrorCode.AUTH_FAILED


def test_malformed_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, "auth.conf", "authname=no-section\n")
    monkeypatch.setenv("VIRTKIT_AUTH_FILE", str(path))
    with pytest.raises(AuthError, match="malformed"):
        credentials("esx", "h", None)


def test_auth_file_variable_naming_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIRTKIT_AUTH_FILE", str(tmp_path / "absent.conf"))
    with pytest.raises(AuthError, match="VIRTKIT_AUTH_FILE"):
        credentials("esx", "h", None)


def test_no_entry_and_no_terminal(conf: Path) -> None:
    with pytest.raises(AuthError, match=r"no \[auth-vpx-h\] or \[auth-vpx-default\]"):
        credentials("vpx", "h", None)


def test_a_host_entry_without_password_does_not_fall_back_to_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """libvirt reads the host's entry when there is one, and never the default as well."""
    text = CONF + "\n[credentials-nopass]\nauthname=ops\n\n[auth-esx-h]\ncredentials=nopass\n"
    monkeypatch.setenv("VIRTKIT_AUTH_FILE", str(_write(tmp_path, "auth.conf", text)))
    with pytest.raises(AuthError, match=r"no \[auth-esx-h\] or .* with a user and password"):
        credentials("esx", "h", None)  # pytest's stdin is no terminal: no prompt
