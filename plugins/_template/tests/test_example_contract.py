"""The shared driver contract (virtkit.testing.contract), run against the example driver."""

from __future__ import annotations

from virtkit.testing.contract import DriverContract


class TestExampleContract(DriverContract):
    uri = "example:///"
    # Optional operations the driver implements, from virtkit.testing.contract.FEATURES; for
    # the others the suite checks that they are refused as unsupported.
    features = frozenset()

    def domain_xml(self, name: str) -> str:
        return f"<domain type='test'><name>{name}</name><memory unit='MiB'>64</memory></domain>"
