"""Flags a driver cannot honour are refused by name, never ignored."""

from __future__ import annotations

import pytest
from virtkit.constants import DomainDestroyFlags, DomainShutdownFlags
from virtkit.errors import ConfigUnsupportedError
from virtkit.flags import refuse_flags


def test_supported_flags_pass() -> None:
    refuse_flags(0, DomainDestroyFlags.DEFAULT, "destroy", "test")
    refuse_flags(DomainShutdownFlags.ACPI_POWER_BTN, DomainShutdownFlags.ACPI_POWER_BTN, "x", "y")


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (DomainShutdownFlags.GUEST_AGENT, "shutdown with flag GUEST_AGENT$"),
        (
            DomainShutdownFlags.GUEST_AGENT | DomainShutdownFlags.INITCTL | 1,
            "shutdown with flags GUEST_AGENT, INITCTL$",
        ),
        (DomainShutdownFlags.SIGNAL | 0x100, "shutdown with flags SIGNAL, 0x100$"),
    ],
)
def test_the_others_are_refused_by_name(flags: int, named: str) -> None:
    with pytest.raises(ConfigUnsupportedError, match=f"^the QEMU driver does not support {named}"):
        refuse_flags(flags, DomainShutdownFlags.ACPI_POWER_BTN, "shutdown", "QEMU")


def test_an_operation_without_flags_refuses_any_in_hexadecimal() -> None:
    refuse_flags(0, 0, "rename", "test")
    with pytest.raises(ConfigUnsupportedError, match="^the test driver does not support rename "):
        refuse_flags(0x5, 0, "rename", "test")
    with pytest.raises(ConfigUnsupportedError, match="with flag 0x5$"):
        refuse_flags(0x5, 0, "rename", "test")
