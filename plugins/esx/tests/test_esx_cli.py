"""The issue's done-when scenario through the CLI, against vcsim as a standalone ESX host:
the password comes from the auth file named by VIRTKIT_AUTH_FILE."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def virtkit(uri: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "virtkit.cli", "-c", uri, *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_list_start_snapshot_revert_list(esx_uri: str) -> None:
    listed = virtkit(esx_uri, "list", "--all")
    assert listed.returncode == 0, listed.stderr
    assert "ha-host_VM1" in listed.stdout
    name = "ha-host_VM1"
    assert virtkit(esx_uri, "destroy", name).returncode == 0
    assert "shut off" in virtkit(esx_uri, "domstate", name).stdout
    started = virtkit(esx_uri, "start", name)
    assert started.returncode == 0, started.stderr
    assert "running" in virtkit(esx_uri, "domstate", name).stdout
    for snap in ("cli-a", "cli-b"):
        made = virtkit(esx_uri, "snapshot-create-as", name, snap)
        assert made.returncode == 0, made.stderr
    reverted = virtkit(esx_uri, "snapshot-revert", name, "cli-a")
    assert reverted.returncode == 0, reverted.stderr
    tree = virtkit(esx_uri, "snapshot-list", name, "--tree")
    assert tree.returncode == 0, tree.stderr
    assert tree.stdout.index("cli-a") < tree.stdout.index("cli-b")
    current = virtkit(esx_uri, "snapshot-current", name, "--name")
    assert current.stdout.strip() == "cli-a"
    assert virtkit(esx_uri, "snapshot-delete", name, "cli-a", "--children").returncode == 0
    assert virtkit(esx_uri, "snapshot-list", name, "--name").stdout.strip() == ""


def test_no_password_is_a_clear_error(
    esx_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "auth.conf"
    empty.write_text("")
    monkeypatch.setenv("VIRTKIT_AUTH_FILE", str(empty))
    done = virtkit(esx_uri, "list")
    assert done.returncode != 0
    assert "no password" in done.stderr and "auth-esx-127.0.0.1" in done.stderr
