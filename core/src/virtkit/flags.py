"""Checking the flags an operation is given: what a driver cannot honour is refused, never
ignored (libvirt's ``virCheckFlags``)."""

from __future__ import annotations

from enum import IntFlag

from virtkit.errors import ConfigUnsupportedError


def refuse_flags(flags: int, supported: IntFlag | int, operation: str, driver: str) -> None:
    """Raise unless ``flags`` holds only flags of ``supported`` (a combination of one flag
    class; its ``DEFAULT`` or ``NONE`` member when none is; ``0`` for an operation that has
    no flags yet, whose refused bits are named in hexadecimal).

    :raises ConfigUnsupportedError: naming the flags refused, the operation and the driver."""
    refused = int(flags) & ~int(supported)
    if not refused:
        return
    members = list(type(supported)) if isinstance(supported, IntFlag) else []
    names = [str(member.name) for member in members if member.value & refused]
    unknown = refused & ~sum(member.value for member in members)
    if unknown:
        names.append(hex(unknown))
    plural = "s" if len(names) > 1 else ""
    raise ConfigUnsupportedError(
        f"the {driver} driver does not support {operation} with flag{plural} {', '.join(names)}"
    )
