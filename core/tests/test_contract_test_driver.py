"""The shared driver contract, run against the test driver's two kinds of node."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
from virtkit.testing.contract import FEATURES, DriverContract

DOMAIN_XML = """\
<domain type='test'>
  <name>{name}</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
</domain>
"""

NODE_XML = """\
<node>
  <domain type='test'>
    <name>resident</name>
    <uuid>0e4a5f3c-5b9a-4a43-8e2a-2f64a2b4f0a1</uuid>
    <memory>65536</memory>
    <os><type>hvm</type></os>
  </domain>
</node>
"""


class TestDefaultNodeContract(DriverContract):
    uri = "test:///default"
    features: ClassVar[frozenset[str]] = frozenset(FEATURES)

    def domain_xml(self, name: str) -> str:
        return DOMAIN_XML.format(name=name)


class TestNodeFileContract(TestDefaultNodeContract):
    @pytest.fixture
    def contract_uri(self, tmp_path: Path) -> str:
        node = tmp_path / "node.xml"
        node.write_text(NODE_XML)
        return f"test://{node}"
