"""The shared driver contract against vcsim as a standalone ESX host."""

from __future__ import annotations

from typing import ClassVar

import pytest
from virtkit.testing.contract import DriverContract


class TestESXContract(DriverContract):
    features: ClassVar[frozenset[str]] = frozenset({"suspend", "snapshots"})

    @pytest.fixture
    def contract_uri(self, esx_uri: str) -> str:
        return esx_uri

    def domain_xml(self, name: str) -> str:
        return (
            f"<domain type='vmware'><name>{name}</name><memory unit='MiB'>32</memory>"
            "<vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>"
        )
