"""virtkit.xml alone: parse, canonical form, format, and the three together as a define does.

Run: ``.venv/bin/python bench/bench_xml.py [--rounds N] [--calls N] [--steps]``

For each document (the domain ``bench_core.py`` defines, and the canonical test suite's basic
domain) every operation runs ``--calls`` times per round; the table gives the median per call
over ``--rounds`` rounds, in microseconds. The define path is what the test driver does on
``define_xml``: parse, :func:`~virtkit.xml.canonical` as an inactive x86_64 config, then
format the inactive XML. No target here: ``bench_core.py`` holds the define target against
libvirt; this one shows where the time goes. Times are this process's CPU time, which other
load on the machine moves less than the wall clock (it still moves it: caches are shared).
``--steps`` adds the time of each canonical step, on the tree the steps before it left.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from bench_core import domain_xml
from lxml import etree
from virtkit.xml import (
    GENERIC_STEPS,
    Context,
    DomainDef,
    Step,
    canonical,
    format_domain,
    parse_domain,
)

DOCUMENTS = {
    "bench_core domain": domain_xml(1),
    "basic (tests/xml)": (
        Path(__file__).resolve().parent.parent
        / "core"
        / "tests"
        / "xml"
        / "data"
        / "canonical"
        / "basic-out.xml"
    ).read_text(),
}
CONTEXT = Context(arch="x86_64", inactive=True)


def median_us(work: Callable[[], object], rounds: int, calls: int) -> float:
    """The median over ``rounds`` of the CPU time per call of ``work``, in µs."""
    samples = []
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(calls):
            work()
        samples.append((time.process_time() - start) / calls)
    return statistics.median(samples) * 1e6


def operations(xml: str) -> dict[str, Callable[[], object]]:
    """The timed operations on one document."""
    parsed = parse_domain(xml)
    canonical_def = canonical(parsed, context=CONTEXT)

    def define() -> str:
        definition: DomainDef = canonical(parse_domain(xml), context=CONTEXT)
        return format_domain(definition, inactive=True)

    return {
        "parse": lambda: parse_domain(xml),
        "canonical": lambda: canonical(parsed, context=CONTEXT),
        "format": lambda: format_domain(canonical_def, inactive=True),
        "define path": define,
    }


def step_us(xml: str, index: int, rounds: int, calls: int) -> float:
    """The median over ``rounds`` of the CPU time of :data:`GENERIC_STEPS` ``[index]`` per
    call, each call on its own tree made by the steps before it (made outside the timing)."""
    parsed = parse_domain(xml)
    step = GENERIC_STEPS[index]
    samples = []
    for _ in range(rounds):
        trees = [_steps_applied(parsed.tree(), GENERIC_STEPS[:index]) for _ in range(calls)]
        start = time.process_time()
        for tree in trees:
            step(tree, CONTEXT)
        samples.append((time.process_time() - start) / calls)
    return statistics.median(samples) * 1e6


def _steps_applied(root: etree._Element, steps: tuple[Step, ...]) -> etree._Element:
    for step in steps:
        step(root, CONTEXT)
    return root


def print_steps(rounds: int, calls: int) -> None:
    """One row per canonical step, one column per document: CPU µs per call."""
    header = f"{'canonical step':<36}" + "".join(f"{label:>20}" for label in DOCUMENTS)
    print(f"\nCPU time per canonical step call, median of {rounds} rounds x {calls} calls")
    print(header)
    print("-" * len(header))
    totals = [0.0] * len(DOCUMENTS)
    for index, step in enumerate(GENERIC_STEPS):
        figures = [step_us(xml, index, rounds, calls) for xml in DOCUMENTS.values()]
        totals = [total + figure for total, figure in zip(totals, figures, strict=True)]
        name = f"{step.__module__.rpartition('.')[2]}.{step.__name__}"
        print(f"{name:<36}" + "".join(f"{value:>20.1f}" for value in figures))
    print(f"{'sum of the steps':<36}" + "".join(f"{value:>20.1f}" for value in totals))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds per figure (median)")
    parser.add_argument("--calls", type=int, default=200, help="calls per round")
    parser.add_argument("--steps", action="store_true", help="also time each canonical step")
    args = parser.parse_args()
    names = ("parse", "canonical", "format", "define path")
    header = f"{'document':<20}" + "".join(f"{name + ' µs':>16}" for name in names)
    print(f"CPU time per call, median of {args.rounds} rounds x {args.calls} calls")
    print(header)
    print("-" * len(header))
    for label, xml in DOCUMENTS.items():
        ops = operations(xml)
        figures = [median_us(ops[name], args.rounds, args.calls) for name in names]
        print(f"{label:<20}" + "".join(f"{value:>16.1f}" for value in figures))
    if args.steps:
        print_steps(args.rounds, args.calls)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
