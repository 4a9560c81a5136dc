"""Which URIs the QEMU driver serves, and the errors for the others."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import virtkit
from virtkit.errors import InvalidArgumentError


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("qemu://otherhost/system", "local QEMU only"),
        ("qemu+ssh://otherhost/system", "local QEMU only"),
        ("qemu:///bogus", "accepts qemu:///system, qemu:///session, qemu:///embed?root=DIR"),
        ("qemu:///embed", "has no root"),
        ("qemu:///embed?root=relative/dir", "must be an absolute path"),
    ],
)
def test_uris_the_driver_refuses(uri: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        virtkit.open(uri)


def test_two_embed_roots_are_two_hosts(qemu_root: Path, firmware_xml: Callable[..., str]) -> None:
    other = qemu_root / "second"
    with (
        virtkit.open(f"qemu:///embed?root={qemu_root}") as one,
        virtkit.open(f"qemu:///embed?root={other}") as two,
    ):
        one.define_xml(firmware_xml("only-here"))
        assert [d.name() for d in one.list_all_domains()] == ["only-here"]
        assert two.list_all_domains() == []
        assert one.get_type() == two.get_type() == "QEMU"
