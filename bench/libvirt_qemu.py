"""QEMU lifecycle benchmark: libvirt 9.0 on a private libvirtd, against a bare QEMU baseline.

Run: ``.venv/bin/python bench/libvirt_qemu.py [--repeats N] [--bare-runs N] [--keep]`` (as root)

Guest: 128 MiB, one vCPU, firmware only (QEMU's default SeaBIOS), ``type='kvm'``; the snapshot
operations use a second such guest with an empty qcow2 disk (internal snapshots need one).
Each side opens a connection with the same names as virtkit's API (libvirt-python is adapted
to them) and runs the same workload, round by round in turn (so both meet the same drift of the
machine); the tables give each operation's median, then virtkit's against libvirt's. To add
a side, write one function that opens its connection (see :data:`SIDES`).

libvirt runs as its own daemon (:mod:`private_libvirtd`: a private mount namespace with its own
configuration, run and state folders), configured as ``../shared/README.md`` says (QEMU as root,
no security driver, stdio to files, a fixed host UUID); the system's libvirt is left alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any, Protocol

from harness import (
    BenchError,
    Row,
    T,
    format_table,
    interpreter,
    median_ms,
    require_libvirt,
    scratch_dir,
    timed,
)
from private_libvirtd import private_libvirtd

QEMU = "/usr/bin/qemu-system-x86_64"
MEMORY_MIB = 128
RUNNING, PAUSED, SHUTOFF = 1, 3, 5  # libvirt's (and virtkit's) DomainState values

GUEST_XML = """\
<domain type='kvm'>
  <name>{name}</name>
  <memory unit='MiB'>{memory}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
  </os>
  <devices>
    <emulator>{qemu}</emulator>{disk}
  </devices>
</domain>
"""

DISK_XML = """
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='{path}'/>
      <target dev='vda' bus='virtio'/>
    </disk>"""

SNAPSHOT_XML = "<domainsnapshot><name>{name}</name></domainsnapshot>"

REFERENCE_MS = {
    "start to running": 483,
    "destroy": 1826,
    "snapshot create (memory)": 102,
    "snapshot revert": 2604,
    "save": 1650,
    "restore": 643,
    "managed save": 1663,
}
"""libvirt's medians measured for issue 3 on this kind of machine, to compare with."""

LIFECYCLE = (
    "define",
    "start to running",
    "suspend",
    "resume",
    "save",
    "restore",
    "managed save",
    "start from managed save",
    "destroy",
)
SNAPSHOTS = ("snapshot create (memory)", "snapshot revert")

QUICK_PER_REPEAT = 15
"""Samples per repeat of the operations that take a millisecond (define, suspend, resume): a
median of a handful moves with every hiccup of the machine by more than the two sides differ
(define: 5 a round put virtkit's ratio anywhere in 0.94-1.06 from one run to the next), and
these samples cost under 50 ms a round per side."""
SNAPSHOTS_PER_REPEAT = 3
"""Snapshots created (and reverted to) per repeat: a snapshot with memory takes ~20 ms, most of
it QEMU's own ``savevm``, whose time varies from one snapshot to the next."""
OPERATIONS = LIFECYCLE + SNAPSHOTS


def guest_xml(name: str, disk: Path | None = None) -> str:
    disk_xml = DISK_XML.format(path=disk) if disk else ""
    return GUEST_XML.format(name=name, memory=MEMORY_MIB, qemu=QEMU, disk=disk_xml)


# ---------------------------------------------------------------------- what a side provides


class Snap(Protocol):
    def delete(self) -> object: ...


class Dom(Protocol):
    def state(self) -> tuple[int, int]: ...
    def create(self) -> object: ...
    def suspend(self) -> object: ...
    def resume(self) -> object: ...
    def destroy(self) -> object: ...
    def save(self, path: str) -> object: ...
    def managed_save(self) -> object: ...
    def snapshot_create_xml(self, xml: str) -> Snap: ...
    def revert_to_snapshot(self, snap: Any) -> object: ...
    def undefine_flags(self, *, snapshots_metadata: bool, managed_save: bool) -> object: ...


class Conn(Protocol):
    """The part of virtkit's :class:`virtkit.Connection` the workload uses."""

    def define_xml(self, xml: str) -> Dom: ...
    def restore(self, path: str) -> object: ...


Side = Callable[[Path], AbstractContextManager[Conn]]
"""Opens one side's connection, given a scratch directory of its own."""


# ---------------------------------------------------------------------- libvirt


class LibvirtSnapshot:
    def __init__(self, snap: Any) -> None:
        self.snap = snap

    def delete(self) -> None:
        self.snap.delete(0)


class LibvirtDomain:
    """A ``virDomain`` under virtkit's names."""

    def __init__(self, libvirt: Any, dom: Any) -> None:
        self.libvirt = libvirt
        self.dom = dom

    def state(self) -> tuple[int, int]:
        state, reason = self.dom.state(0)
        return int(state), int(reason)

    def create(self) -> None:
        self.dom.create()

    def suspend(self) -> None:
        self.dom.suspend()

    def resume(self) -> None:
        self.dom.resume()

    def destroy(self) -> None:
        self.dom.destroy()

    def save(self, path: str) -> None:
        self.dom.save(path)

    def managed_save(self) -> None:
        self.dom.managedSave(0)

    def snapshot_create_xml(self, xml: str) -> LibvirtSnapshot:
        return LibvirtSnapshot(self.dom.snapshotCreateXML(xml, 0))

    def revert_to_snapshot(self, snap: LibvirtSnapshot) -> None:
        self.dom.revertToSnapshot(snap.snap, 0)

    def undefine_flags(self, *, snapshots_metadata: bool, managed_save: bool) -> None:
        flags = (
            self.libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA if snapshots_metadata else 0
        ) | (self.libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE if managed_save else 0)
        self.dom.undefineFlags(flags)


class LibvirtConnection:
    """A ``virConnect`` under virtkit's names."""

    def __init__(self, libvirt: Any, conn: Any) -> None:
        self.libvirt = libvirt
        self.conn = conn

    def define_xml(self, xml: str) -> LibvirtDomain:
        return LibvirtDomain(self.libvirt, self.conn.defineXML(xml))

    def restore(self, path: str) -> None:
        self.conn.restore(path)

    def clear(self) -> None:
        """Destroy and undefine every domain (with its snapshots and managed save)."""
        for dom in self.conn.listAllDomains(0):
            if dom.isActive():
                dom.destroy()
            LibvirtDomain(self.libvirt, dom).undefine_flags(
                snapshots_metadata=True, managed_save=True
            )


QEMU_CONF = 'user = "root"\ngroup = "root"\nsecurity_driver = "none"\nstdio_handler = "file"\n'


@contextmanager
def qemu_libvirtd(root: Path) -> Iterator[Any]:
    """libvirt's QEMU driver on a private libvirtd under ``root``; a libvirt-python connection.

    On exit every domain it holds is destroyed and undefined and the daemon stopped; a QEMU it
    leaves behind (found by the pidfiles in its run folder) is killed.
    """
    libvirt = require_libvirt()
    try:
        with private_libvirtd(root, "qemu", driver_conf={"qemu.conf": QEMU_CONF}) as conn:
            conn.getDomainCapabilities(QEMU, "x86_64", "pc", "kvm", 0)  # probe QEMU now
            try:
                yield conn
            finally:
                LibvirtConnection(libvirt, conn).clear()
    finally:
        kill_leftover_qemu(root / "run" / "qemu")


def kill_leftover_qemu(pid_dir: Path) -> None:
    for pidfile in pid_dir.glob("*.pid"):
        with suppress(ValueError, ProcessLookupError):
            os.kill(int(pidfile.read_text().strip()), signal.SIGKILL)


@contextmanager
def libvirt_side(root: Path) -> Iterator[Conn]:
    """libvirt 9.0's QEMU driver through libvirt-python, on a private libvirtd."""
    with qemu_libvirtd(root) as conn:
        yield LibvirtConnection(require_libvirt(), conn)


@contextmanager
def virtkit_side(root: Path) -> Iterator[Conn]:
    """virtkit's QEMU plugin on its own root (``qemu:///embed``), same QEMU, same guest."""
    import virtkit

    with virtkit.open(f"qemu:///embed?root={root}") as conn:
        yield conn


SIDES: dict[str, Side] = {"libvirt": libvirt_side, "virtkit": virtkit_side}
"""Every side measured, by column label; each is one function opening its connection."""


# ---------------------------------------------------------------------- the workload


def expect(dom: Dom, state: int, after: str) -> None:
    actual = dom.state()[0]
    if actual != state:
        raise BenchError(f"after {after} the domain's state is {actual}, expected {state}")


class Samples(dict[str, list[float]]):
    """Seconds per operation of :data:`OPERATIONS`."""

    def __init__(self) -> None:
        super().__init__({op: [] for op in OPERATIONS})

    def clock(self, op: str, work: Callable[[], T]) -> T:
        seconds, result = timed(work)
        self[op].append(seconds)
        return result

    def median_ms(self, op: str) -> float | None:
        return median_ms(self[op]) if self[op] else None


def discard(dom: Dom) -> None:
    """Destroy (if it runs) and undefine the domain with its snapshots and managed save."""
    if dom.state()[0] != SHUTOFF:
        dom.destroy()
    dom.undefine_flags(snapshots_metadata=True, managed_save=True)


@contextmanager
def discarded_after(dom: Dom, scratch_file: Path) -> Iterator[Dom]:
    """``dom`` for the block; then :func:`discard` it (its errors only raised when the block
    ended normally) and remove ``scratch_file``."""
    try:
        yield dom
    except BaseException:
        with suppress(Exception):
            discard(dom)
        raise
    finally:
        scratch_file.unlink(missing_ok=True)
    discard(dom)


def lifecycle_phase(conn: Conn, scratch: Path, samples: Samples) -> None:
    """One round of define, start, suspend, resume, save, restore, managed save, start from
    it, destroy (define, suspend and resume :data:`QUICK_PER_REPEAT` times)."""
    save_path = scratch / "guest.save"
    plain_xml = guest_xml("bench-plain")
    for _ in range(QUICK_PER_REPEAT - 1):
        discard(samples.clock("define", lambda: conn.define_xml(plain_xml)))
    dom = samples.clock("define", lambda: conn.define_xml(plain_xml))
    with discarded_after(dom, save_path):
        samples.clock("start to running", dom.create)
        expect(dom, RUNNING, "start")
        # Not timed: how long a vCPU takes to stop depends on what the guest is doing in its
        # first milliseconds, that is on when the start let its CPUs run (libvirt: at its
        # end, after cont; a plain boot by virtkit: at once), not on the suspend itself.
        dom.suspend()
        dom.resume()
        for _ in range(QUICK_PER_REPEAT):
            samples.clock("suspend", dom.suspend)
            expect(dom, PAUSED, "suspend")
            samples.clock("resume", dom.resume)
            expect(dom, RUNNING, "resume")
        samples.clock("save", lambda: dom.save(str(save_path)))
        expect(dom, SHUTOFF, "save")
        samples.clock("restore", lambda: conn.restore(str(save_path)))
        expect(dom, RUNNING, "restore")
        samples.clock("managed save", dom.managed_save)
        expect(dom, SHUTOFF, "managed save")
        samples.clock("start from managed save", dom.create)
        expect(dom, RUNNING, "start from managed save")
        samples.clock("destroy", dom.destroy)
        expect(dom, SHUTOFF, "destroy")


def snapshot_phase(conn: Conn, scratch: Path, samples: Samples) -> None:
    """One round of snapshots with memory of the running guest, each reverted to at once (a
    qcow2 disk holds them): :data:`SNAPSHOTS_PER_REPEAT` of them."""
    disk = scratch / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "64M"], check=True)
    dom = conn.define_xml(guest_xml("bench-disk", disk))
    with discarded_after(dom, disk):
        dom.create()
        for n in range(SNAPSHOTS_PER_REPEAT):
            xml = SNAPSHOT_XML.format(name=f"snap-{n}")
            snap = samples.clock("snapshot create (memory)", lambda: dom.snapshot_create_xml(xml))  # noqa: B023
            samples.clock("snapshot revert", lambda: dom.revert_to_snapshot(snap))  # noqa: B023
            expect(dom, RUNNING, "revert to a snapshot of the running domain")
            snap.delete()


def run_rounds(
    conns: dict[str, Conn], roots: dict[str, Path], repeats: int
) -> tuple[dict[str, Samples], dict[str, list[str]]]:
    """``repeats`` rounds, each running every phase once on every side (the sides' order
    alternating), so that all sides meet the same drift of the machine; every side's samples
    and what failed. A phase that fails on a side (say, one without snapshots yet) is not run
    there again; its operations go unmeasured and the others go on."""
    samples = {label: Samples() for label in conns}
    failures: dict[str, list[str]] = {label: [] for label in conns}
    failed: set[tuple[str, str]] = set()
    labels = list(conns)
    for n in range(repeats):
        for label in labels if n % 2 == 0 else labels[::-1]:
            for phase in (lifecycle_phase, snapshot_phase):
                if (label, phase.__name__) in failed:
                    continue
                try:
                    phase(conns[label], roots[label], samples[label])
                except Exception as exc:
                    failed.add((label, phase.__name__))
                    failures[label].append(f"{phase.__name__}: {type(exc).__name__}: {exc}")
    return samples, failures


# ---------------------------------------------------------------------- bare QEMU baseline


async def bare_qemu_start(scratch: Path, *, cont: bool) -> float:
    """Seconds from spawning ``qemu-system-x86_64 -S`` (the guest above, no libvirt) until QMP
    has answered ``qmp_capabilities`` (and, with ``cont``, ``cont``)."""
    from qemu.qmp import QMPClient

    sock = scratch / "bare-qmp.sock"
    sock.unlink(missing_ok=True)
    argv = [
        QEMU,
        "-accel",
        "kvm",
        "-machine",
        "pc",
        "-m",
        str(MEMORY_MIB),
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-S",
        "-chardev",
        f"socket,id=qmp,path={sock}",
        "-mon",
        "chardev=qmp,mode=control",
    ]
    client = QMPClient("bare")
    start = time.perf_counter()
    await client.start_server(str(sock))
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        await asyncio.wait_for(client.accept(), timeout=30)  # greeting + qmp_capabilities
        if cont:
            await client.execute("cont")
        seconds = time.perf_counter() - start
    except Exception as exc:
        process.kill()
        _, err = await process.communicate()
        raise BenchError(f"bare QEMU failed to start: {exc}: {err.decode().strip()}") from exc
    finally:
        await client.disconnect()
        if process.returncode is None:
            process.terminate()
        await process.wait()
    return seconds


def bare_baseline(scratch: Path, runs: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"bare QEMU -S + QMP handshake": [], "... + cont": []}
    for run in range(runs + 1):  # the first run only warms the page cache
        for label, cont in zip(samples, (False, True), strict=True):
            seconds = asyncio.run(bare_qemu_start(scratch, cont=cont))
            if run:
                samples[label].append(seconds)
    return samples


# ---------------------------------------------------------------------- report


def libvirt_table(libvirt: Samples, bare: dict[str, list[float]]) -> str:
    lines = [
        f"{'operation':<30} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'issue ref ms':>13}"
    ]
    for op, values in [*libvirt.items(), *bare.items()]:
        ref = "" if op not in REFERENCE_MS else str(REFERENCE_MS[op])
        if not values:
            lines.append(f"{op:<30} {'-':>10} {'-':>8} {'-':>8} {ref:>13}")
            continue
        lines.append(
            f"{op:<30} {median_ms(values):>10.1f} {min(values) * 1000:>8.1f} "
            f"{max(values) * 1000:>8.1f} {ref:>13}"
        )
    return "\n".join(lines)


def comparison_rows(libvirt: Samples, candidate: Samples | None, bare_ms: float) -> list[Row]:
    """Issue 3's targets: at or below libvirt's median on every operation; start within 1.5x
    the bare QEMU baseline; destroy at most 200 ms; revert at most 1 s."""

    def cand(op: str) -> float | None:
        return candidate.median_ms(op) if candidate else None

    rows = [
        Row(
            operation=op,
            reference=libvirt.median_ms(op),
            candidate=cand(op),
            target=1.0,
            higher_is_better=False,
        )
        for op in OPERATIONS
    ]
    budgets = (
        ("start vs bare QEMU baseline", bare_ms, "start to running", 1.5),
        ("destroy vs 200 ms budget", 200.0, "destroy", 1.0),
        ("revert vs 1000 ms budget", 1000.0, "snapshot revert", 1.0),
    )
    rows += [
        Row(
            operation=label,
            reference=ref,
            candidate=cand(op),
            target=target,
            higher_is_better=False,
        )
        for label, ref, op, target in budgets
    ]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=11,
        help="rounds of the workload (default 11: with 5, the medians of the millisecond "
        "operations move by a third from one run to the next on a busy host)",
    )
    parser.add_argument("--bare-runs", type=int, default=10, help="bare QEMU starts (default 10)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        raise BenchError("/dev/kvm is not usable here: the benchmark guest is a KVM guest")

    with scratch_dir("virtkit-bench-qemu-", keep=args.keep) as scratch:
        bare = bare_baseline(scratch, args.bare_runs)
        roots = {label: scratch / label for label in SIDES}
        with ExitStack() as stack:
            conns = {}
            for label, side in SIDES.items():
                roots[label].mkdir()
                conns[label] = stack.enter_context(side(roots[label]))
            results, failures = run_rounds(conns, roots, args.repeats)
        for label, failed in failures.items():
            for failure in failed:
                print(f"{label}: {failure}", file=sys.stderr)

    print(
        f"\nlibvirt 9.0, {MEMORY_MIB} MiB firmware-only KVM guest: {args.repeats} rounds (define,"
        f" suspend and resume {QUICK_PER_REPEAT} times a round), bare QEMU {args.bare_runs} runs;"
        f" virtkit on {interpreter()}"
    )
    print(libvirt_table(results["libvirt"], bare))
    candidates: list[str | None] = [label for label in results if label != "libvirt"] or [None]
    verdicts = []
    for candidate in candidates:
        rows = comparison_rows(
            results["libvirt"],
            results[candidate] if candidate else None,
            median_ms(bare["bare QEMU -S + QMP handshake"]),
        )
        print(f"\n{candidate or 'virtkit'} against libvirt (ratio = time / reference time)")
        print(format_table(rows, "reference", candidate or "virtkit", "ratio"))
        verdicts += [row.verdict for row in rows]
    return 0 if all(v == "pass" for v in verdicts) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
