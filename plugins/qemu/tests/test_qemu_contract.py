"""The shared driver contract, run against ``qemu:///embed`` with firmware-only guests."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
from virtkit.testing.contract import DriverContract
from virtkit_qemu.argv.accel import kvm_problem

GUEST_TYPE = "kvm" if kvm_problem() is None else "qemu"


class TestQemuContract(DriverContract):
    features: ClassVar[frozenset[str]] = frozenset(
        {"suspend", "autostart", "save", "managed_save", "rename"}
    )
    shutdown_timeout: ClassVar[float] = 1.0  # a firmware-only guest never answers ACPI

    @pytest.fixture
    def contract_uri(self, qemu_root: Path) -> str:
        return f"qemu:///embed?root={qemu_root}"

    def domain_xml(self, name: str) -> str:
        return (
            f"<domain type='{GUEST_TYPE}'><name>{name}</name><memory unit='MiB'>64</memory>"
            "<vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>"
            "<devices><serial type='pty'/></devices></domain>"
        )
