"""The shared driver contract against ``lxc:///embed?root=<tmp>`` with busybox containers.

Snapshots are not declared: the contract snapshots running domains, which for containers needs
CRIU (refused here, see test_lxc_snapshots.py for the shut-off root filesystem snapshots).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar
from xml.sax.saxutils import escape

import pytest
from virtkit.testing.contract import DriverContract


class TestLxcContract(DriverContract):
    features: ClassVar[frozenset[str]] = frozenset({"suspend", "autostart"})

    @pytest.fixture
    def contract_uri(self, tmp_path: Path, rootfs: Path) -> str:
        self.root = rootfs
        return f"lxc:///embed?root={tmp_path / 'embed'}"

    def domain_xml(self, name: str) -> str:
        # init exits on SIGPWR, so shutdown completes without the timeout's destroy
        script = "trap 'exit 0' PWR; while :; do sleep 0.02; done"
        return f"""<domain type='lxc'>
  <name>{name}</name>
  <memory unit='MiB'>64</memory>
  <os><type>exe</type><init>/bin/sh</init><initarg>-c</initarg><initarg>{escape(script)}</initarg></os>
  <devices>
    <filesystem type='mount'><source dir='{self.root}'/><target dir='/'/></filesystem>
    <console type='pty'/>
  </devices>
</domain>"""
