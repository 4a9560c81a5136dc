"""The shared driver contract against the real Xen host, over ``xen+ssh://``.

Declared: suspend and autostart. Save, managed save and snapshots are left out here: the
contract's save test writes its image under the test's local ``tmp_path``, which a remote dom0
cannot see, and every started guest costs seconds on the emulated host; those operations are
tested against the same host in ``test_xen_lifecycle.py`` and ``test_xen_snapshots.py``.
"""

from __future__ import annotations

from typing import ClassVar

import pytest
from virtkit.testing.contract import DriverContract
from virtkit_xen.testhost import guest_xml

pytestmark = pytest.mark.xen


class TestXenContract(DriverContract):
    features: ClassVar[frozenset[str]] = frozenset({"suspend", "autostart"})

    @pytest.fixture
    def contract_uri(self, xen_uri: str) -> str:
        return xen_uri

    def domain_xml(self, name: str) -> str:
        return guest_xml(name)
