"""virtkit's pytest plugin (entry point ``pytest11``): markers and the conformance summary.

Driver authors get the shared driver-contract suite from :mod:`virtkit.testing.contract`.
"""

from __future__ import annotations

from typing import Any

import pytest

from virtkit.testing import conformance

MARKERS = (
    "conformance: compares virtkit with libvirt's own test data (../shared/conformance)",
    "qemu: needs qemu-system-x86_64 and qemu-img",
    "slow: takes more than a few seconds",
    "xen: needs the Xen host built by ../shared/sim/xen (boots it under QEMU)",
)
"""Markers virtkit's and its plugins' tests use, registered wherever pytest runs them (a plugin's
tests run from the plugin's own folder do not read the repository's configuration)."""


def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    lines = list(conformance.iter_summary())
    if lines:
        terminalreporter.section("conformance")
        for line in lines:
            terminalreporter.write_line(line)
