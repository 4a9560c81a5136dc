"""virtkit's pytest plugin (entry point ``pytest11``): markers and the conformance summary.

Driver authors get the shared driver-contract suite from :mod:`virtkit.testing.contract`.
"""

from __future__ import annotations

from typing import Any

import pytest

from virtkit.testing import conformance


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "conformance: compares virtkit with libvirt's own test data"
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    lines = list(conformance.iter_summary())
    if lines:
        terminalreporter.section("conformance")
        for line in lines:
            terminalreporter.write_line(line)
