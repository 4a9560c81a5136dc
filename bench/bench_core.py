"""virtkit's test driver against libvirt 9.0's test driver (through libvirt-python), same work.

Run: ``.venv/bin/python bench/bench_core.py [--repeats N] [--cold-runs N] [--profile]``

Each repeat opens ``test:///default`` on both sides (alternating which goes first) and times:
define 1000 domains, lookup by name x10000, list all with 1000 defined (x20 calls), XML dump
x1000, then on one running domain snapshot create, revert and delete x200 each. The table gives
the median of each, and virtkit's throughput relative to libvirt's (target: at least 0.5).
Handles a call returns are freed inside its timing, as they are in a caller's loop. Both
sides run in this one process: run it on a quiet machine, the figures move with the load.
Cold start compares ``virtkit -c test:///default list --all`` with ``virsh`` (target: at most
6x). ``--profile`` runs virtkit's workload once more under cProfile and prints the hot spots.
Exit status 0 when every target is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import subprocess
import sys
import sysconfig
import uuid
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

from harness import BenchError, Row, T, format_table, median_ms, require_libvirt, timed

URI = "test:///default"
DOMAINS = 1000
LOOKUPS = 10_000
LIST_CALLS = 20
SNAPSHOTS = 200
A = TypeVar("A")
UUID_NAMESPACE = uuid.UUID("5d0f3c1e-8a57-4c8e-9b0a-6f1d2f9b8e10")

DOMAIN_XML = """\
<domain type='kvm'>
  <name>{name}</name>
  <uuid>{uuid}</uuid>
  <memory unit='KiB'>131072</memory>
  <currentMemory unit='KiB'>131072</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <boot dev='hd'/>
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/images/{name}.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='network'>
      <mac address='52:54:00:{mac}'/>
      <source network='default'/>
      <model type='virtio'/>
    </interface>
    <serial type='pty'>
      <target port='0'/>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
  </devices>
</domain>
"""

SNAPSHOT_XML = (
    "<domainsnapshot><name>{name}</name><description>bench</description></domainsnapshot>"
)


def domain_name(i: int) -> str:
    return f"bench-{i:04d}"


def domain_xml(i: int) -> str:
    name = domain_name(i)
    mac = ":".join(f"{b:02x}" for b in (i >> 16 & 0xFF, i >> 8 & 0xFF, i & 0xFF))
    return DOMAIN_XML.format(name=name, uuid=uuid.uuid5(UUID_NAMESPACE, name), mac=mac)


class Backend(Protocol):
    """One side of the comparison, reduced to the calls the workload makes."""

    label: str

    def open(self) -> Any: ...
    def close(self, conn: Any) -> None: ...
    def define(self, conn: Any, xml: str) -> Any: ...
    def lookup(self, conn: Any, name: str) -> Any: ...
    def list_all(self, conn: Any) -> list[Any]: ...
    def xml_dump(self, dom: Any) -> str: ...
    def start(self, dom: Any) -> None: ...
    def snapshot_create(self, dom: Any, xml: str) -> Any: ...
    def revert(self, dom: Any, snap: Any) -> object: ...
    def snapshot_delete(self, snap: Any) -> object: ...
    def destroy(self, dom: Any) -> None: ...
    def undefine(self, dom: Any) -> None: ...


class LibvirtBackend:
    """libvirt-python's camelCase API on libvirt's own test driver."""

    label = "libvirt"

    def __init__(self) -> None:
        self.libvirt = require_libvirt()

    def open(self) -> Any:
        return self.libvirt.open(URI)

    def close(self, conn: Any) -> None:
        conn.close()

    def define(self, conn: Any, xml: str) -> Any:
        return conn.defineXML(xml)

    def lookup(self, conn: Any, name: str) -> Any:
        return conn.lookupByName(name)

    def list_all(self, conn: Any) -> list[Any]:
        return list(conn.listAllDomains(0))

    def xml_dump(self, dom: Any) -> str:
        return str(dom.XMLDesc(0))

    def start(self, dom: Any) -> None:
        dom.create()

    def snapshot_create(self, dom: Any, xml: str) -> Any:
        return dom.snapshotCreateXML(xml, 0)

    def revert(self, dom: Any, snap: Any) -> None:
        dom.revertToSnapshot(snap, 0)

    def snapshot_delete(self, snap: Any) -> None:
        snap.delete(0)

    def destroy(self, dom: Any) -> None:
        dom.destroy()

    def undefine(self, dom: Any) -> None:
        dom.undefine()


class VirtkitBackend:
    """virtkit's public API on its test driver."""

    label = "virtkit"

    def __init__(self) -> None:
        import virtkit

        self.virtkit = virtkit

    def open(self) -> Any:
        return self.virtkit.open(URI)

    def close(self, conn: Any) -> None:
        conn.close()

    def define(self, conn: Any, xml: str) -> Any:
        return conn.define_xml(xml)

    def lookup(self, conn: Any, name: str) -> Any:
        return conn.lookup_by_name(name)

    def list_all(self, conn: Any) -> list[Any]:
        return list(conn.list_all_domains())

    def xml_dump(self, dom: Any) -> str:
        return str(dom.xml_desc())

    def start(self, dom: Any) -> None:
        dom.create()

    def snapshot_create(self, dom: Any, xml: str) -> Any:
        return dom.snapshot_create_xml(xml)

    def revert(self, dom: Any, snap: Any) -> None:
        dom.revert_to_snapshot(snap)

    def snapshot_delete(self, snap: Any) -> None:
        snap.delete()

    def destroy(self, dom: Any) -> None:
        dom.destroy()

    def undefine(self, dom: Any) -> None:
        dom.undefine()


OPERATIONS = (
    f"define x{DOMAINS}",
    f"lookup by name x{LOOKUPS}",
    f"list all ({DOMAINS} defined) x{LIST_CALLS}",
    f"XML dump x{DOMAINS}",
    f"snapshot create x{SNAPSHOTS}",
    f"snapshot revert x{SNAPSHOTS}",
    f"snapshot delete x{SNAPSHOTS}",
)


def check(condition: bool, backend: Backend, what: str) -> None:
    if not condition:
        raise BenchError(f"{backend.label}: {what}")


def each(call: Callable[[A], object], items: Iterable[A]) -> None:
    """``call(item)`` for every item, dropping what it returns at once."""
    for item in items:
        call(item)


def run_workload(backend: Backend) -> dict[str, float]:
    """One pass of the whole workload on a fresh connection; seconds per operation."""
    xmls = [domain_xml(i) for i in range(DOMAINS)]
    names = [domain_name(i) for i in range(DOMAINS)]
    lookup_names = [names[i % DOMAINS] for i in range(LOOKUPS)]
    snapshot_xmls = [SNAPSHOT_XML.format(name=f"snap-{i:03d}") for i in range(SNAPSHOTS)]
    conn = backend.open()
    try:
        before = len(backend.list_all(conn))
        check(before == 1, backend, f"{URI} should start with 1 domain, it has {before}")
        ops = iter(OPERATIONS)
        times: dict[str, float] = {}

        def clock(work: Callable[[], T]) -> T:
            times[next(ops)], result = timed(work)
            return result

        # Handles a call returns are dropped inside the timing (freeing them is part of the
        # cost), except those the next operation needs.
        clock(lambda: each(partial(backend.define, conn), xmls))
        clock(lambda: each(partial(backend.lookup, conn), lookup_names))
        counts = clock(lambda: [len(backend.list_all(conn)) for _ in range(LIST_CALLS)])
        check(counts[-1] == DOMAINS + 1, backend, f"listed {counts[-1]} domains, not {DOMAINS + 1}")
        doms = [backend.lookup(conn, n) for n in names]
        dumps = clock(lambda: [backend.xml_dump(d) for d in doms])
        check(f"<name>{names[-1]}</name>" in dumps[-1], backend, "XML dump lacks the domain's name")

        dom = doms[0]
        backend.start(dom)
        snaps = clock(lambda: [backend.snapshot_create(dom, x) for x in snapshot_xmls])
        clock(lambda: each(partial(backend.revert, dom), snaps))
        clock(lambda: each(backend.snapshot_delete, reversed(snaps)))

        backend.destroy(dom)  # leave test:///default as it was (virtkit keeps it per process)
        for d in doms:
            backend.undefine(d)
        return times
    finally:
        backend.close(conn)


def virtkit_command() -> list[str]:
    script = Path(sysconfig.get_path("scripts")) / "virtkit"
    if not script.exists():
        raise BenchError(f"the virtkit command is not installed ({script}); run scripts/setup.sh")
    return [str(script)]


def virsh_command() -> list[str]:
    virsh = shutil.which("virsh")
    if virsh is None:
        raise BenchError("virsh is not installed; run scripts/setup-libvirt.sh")
    return [virsh]


def cold_start_ms(runs: int) -> dict[str, float | None]:
    """Median milliseconds of ``virsh`` and ``virtkit`` ``-c test:///default list --all``, each
    a new process, run alternately so both see the same machine load. The first run of each
    only warms the page cache and writes virtkit's bytecode (as ``pip install`` would have;
    ``PYTHONDONTWRITEBYTECODE`` is dropped). A command that fails gets ``None`` and a
    message on stderr."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    argvs: dict[str, list[str]] = {}
    for label, command in (("virsh", virsh_command), ("virtkit", virtkit_command)):
        try:
            argvs[label] = [*command(), "-c", URI, "list", "--all"]
        except BenchError as exc:
            print(f"cold start of {label} cannot be measured: {exc}", file=sys.stderr)
    samples: dict[str, list[float]] = {label: [] for label in argvs}
    for run in range(runs + 1):
        for label, argv in list(argvs.items()):
            seconds, out = timed(
                partial(subprocess.run, argv, capture_output=True, text=True, env=env)
            )
            if out.returncode != 0 or "test" not in out.stdout or "running" not in out.stdout:
                print(
                    f"cold start of {label} cannot be measured: {' '.join(argv)} failed (exit "
                    f"{out.returncode}) or did not list the running 'test' domain:\n"
                    f"{out.stdout}{out.stderr}",
                    file=sys.stderr,
                )
                del argvs[label]
            elif run:
                samples[label].append(seconds)
    return {
        label: median_ms(samples[label]) if label in argvs else None
        for label in ("virsh", "virtkit")
    }


def measure(backends: list[Backend], repeats: int) -> dict[str, dict[str, list[float]]]:
    samples: dict[str, dict[str, list[float]]] = {
        b.label: {op: [] for op in OPERATIONS} for b in backends
    }
    for n in range(repeats):
        order = backends if n % 2 == 0 else backends[::-1]
        for backend in order:
            for op, seconds in run_workload(backend).items():
                samples[backend.label][op].append(seconds)
        print(f"repeat {n + 1}/{repeats} done", file=sys.stderr)
    return samples


def profile(backend: Backend, top: int = 25) -> None:
    """Run the workload once under cProfile and print where the time goes."""
    profiler = cProfile.Profile()
    profiler.runcall(run_workload, backend)
    stats = pstats.Stats(profiler, stream=sys.stdout).strip_dirs()
    print(f"\n== cProfile of {backend.label}'s workload, by cumulative time ==")
    stats.sort_stats("cumulative").print_stats(top)
    print("== by own time ==")
    stats.sort_stats("tottime").print_stats(top)


def virtkit_backend() -> tuple[VirtkitBackend | None, str | None]:
    """virtkit's side, or the reason it cannot run here."""
    try:
        backend = VirtkitBackend()
        backend.close(backend.open())
    except Exception as exc:  # report any failure to open: the table says what is missing
        return None, f"{type(exc).__name__}: {exc}"
    return backend, None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5, help="workload repeats (default 5)")
    parser.add_argument("--cold-runs", type=int, default=20, help="cold start runs (default 20)")
    parser.add_argument("--profile", action="store_true", help="profile virtkit's workload")
    args = parser.parse_args(argv)

    backends: list[Backend] = [LibvirtBackend()]
    candidate, missing = virtkit_backend()
    if candidate is None:
        print(f"virtkit's {URI} cannot be measured: {missing}", file=sys.stderr)
    else:
        backends.append(candidate)
    samples = measure(backends, args.repeats)

    rows = [
        Row(
            operation=op,
            reference=median_ms(samples["libvirt"][op]),
            candidate=median_ms(samples["virtkit"][op]) if candidate else None,
            target=0.5,
        )
        for op in OPERATIONS
    ]
    cold = cold_start_ms(args.cold_runs)
    rows.append(
        Row(
            operation="cold start: list --all (CLI)",
            reference=cold["virsh"],
            candidate=cold["virtkit"],
            target=6.0,
            higher_is_better=False,
        )
    )
    print(
        f"\nmedians of {args.repeats} repeats; ratio = virtkit throughput / libvirt throughput "
        f"(cold start: virtkit time / virsh time, medians of {args.cold_runs} runs)"
    )
    print(format_table(rows, "libvirt", "virtkit", "ratio"))
    if args.profile and candidate is not None:
        profile(candidate)
    return 0 if all(row.verdict == "pass" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
