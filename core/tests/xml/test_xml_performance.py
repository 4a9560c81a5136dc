"""Parse + format of a typical domain stays well under a millisecond (the test driver parses on
every define and formats on every dumpxml)."""

from __future__ import annotations

import time
from pathlib import Path

from virtkit.xml import canonical, format_domain, parse_domain

TYPICAL = (Path(__file__).parent / "data" / "canonical" / "basic-out.xml").read_text()


def _per_call(fn: object, rounds: int = 300) -> float:
    assert callable(fn)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(rounds):
            fn()
        best = min(best, (time.perf_counter() - start) / rounds)
    return best


def test_parse_and_format_under_a_millisecond() -> None:
    definition = canonical(parse_domain(TYPICAL))
    parse = _per_call(lambda: parse_domain(TYPICAL))
    fmt = _per_call(lambda: format_domain(definition))
    print(f"parse {parse * 1e6:.0f} us, format {fmt * 1e6:.0f} us")
    assert parse + fmt < 1e-3, f"parse {parse * 1e6:.0f} us + format {fmt * 1e6:.0f} us"
