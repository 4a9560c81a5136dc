"""Live migration benchmark: virtkit against libvirt 9.0, two hosts on this machine, same QEMU.

Run: ``.venv/bin/python bench/bench_migration.py [--hops N] [--keep]`` (as root)

libvirt's two hosts are two private libvirtds (``private_libvirtd.py``; ``../shared/README.md``,
"Migration between two libvirt hosts here"), each in its own mount namespace with its own
folders, host UUID and socket; the client holds both connections and migration data goes over
TCP on loopback.
virtkit's two hosts are two ``qemu:///embed?root=...`` roots. Each side migrates the running
guest back and forth ``--hops`` times: a 128 MiB idle firmware-only guest, then the small Linux
guest under TCG (booted first; it shares one local disk between both hosts, which libvirt accepts
only with ``VIR_MIGRATE_UNSAFE``). The table gives the medians of the total time of one migration
(the call, from begin to confirm) and of the downtime QEMU measured.

Target: virtkit's total at most 1.0 s, at equal or lower downtime.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from harness import BenchError, median_ms, require_libvirt
from libvirt_qemu import QEMU_CONF, LibvirtConnection, guest_xml, kill_leftover_qemu
from private_libvirtd import private_libvirtd

TOTAL_TARGET_MS = 1000.0
LIBVIRT_MIGRATE_URI = "tcp://127.0.0.1"
BOOT_TIMEOUT = 90.0

Migrate = Callable[[Any, int], tuple[Any, float]]
"""``migrate(domain, hop)``: move the domain to the other host; its new handle and downtime (ms)."""


# ---------------------------------------------------------------------- libvirt: two daemons


@contextmanager
def libvirt_host(root: Path, number: int) -> Iterator[Any]:
    """A private libvirtd acting as host ``number`` (its own folders, socket and host UUID)."""
    libvirt = require_libvirt()
    conf = {
        "libvirtd.conf": f'host_uuid = "0b7e3c52-2f0d-4d5e-9a61-7c2a4e8f1b{number:02d}"\n',
        "qemu.conf": QEMU_CONF,
    }
    try:
        with private_libvirtd(root, "qemu", driver_conf=conf) as conn:
            try:
                yield conn
            finally:
                LibvirtConnection(libvirt, conn).clear()
    finally:
        kill_leftover_qemu(root / "run" / "qemu")


def libvirt_migrator(hosts: tuple[Any, Any], flags: int) -> Migrate:
    libvirt = require_libvirt()

    def migrate(dom: Any, hop: int) -> tuple[Any, float]:
        moved = dom.migrate(hosts[(hop + 1) % 2], flags, None, LIBVIRT_MIGRATE_URI, 0)
        stats = moved.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)
        if "downtime" not in stats:
            stats = dom.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)
        return moved, float(stats.get("downtime", "nan"))

    return migrate


# ---------------------------------------------------------------------- virtkit: two roots


def virtkit_migrator(hosts: tuple[Any, Any]) -> Migrate:
    from virtkit.constants import DomainMigrateFlags

    def migrate(dom: Any, hop: int) -> tuple[Any, float]:
        moved = dom.migrate(hosts[(hop + 1) % 2], DomainMigrateFlags.LIVE, {})
        return moved, float(dom.job_info(completed=True).stats["downtime"])

    return migrate


# ---------------------------------------------------------------------- the workload


def linux_guest_xml(name: str, scratch: Path) -> str:
    from virtkit_qemu.guest_image import build_guest

    guest = build_guest()
    disk = scratch / f"{name}.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "16M"], check=True)
    return (
        f"<domain type='qemu'><name>{name}</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>"
        "<os><type arch='x86_64' machine='pc'>hvm</type>"
        f"<kernel>{guest.kernel}</kernel><initrd>{guest.initrd}</initrd>"
        f"<cmdline>{guest.cmdline}</cmdline></os><features><acpi/></features><devices>"
        "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
        f"<source file='{disk}'/><target dev='vda' bus='virtio'/></disk>"
        f"<serial type='file'><source path='{scratch / f'{name}.serial'}' append='on'/>"
        "</serial></devices></domain>"
    )


def wait_booted(serial: Path) -> None:
    from virtkit_qemu.guest_image import READY_LINE, wait_for_serial

    wait_for_serial(serial, lambda d: READY_LINE in d, timeout=BOOT_TIMEOUT, what="boot")


def hops(
    define: Callable[[str], Any],
    migrate: Migrate,
    xml: str,
    count: int,
    booted: Callable[[], None] | None,
) -> tuple[list[float], list[float]]:
    """Start the guest on host 0, migrate it ``count`` times; seconds and downtimes (ms)."""
    dom = define(xml)
    dom.create()
    if booted is not None:
        booted()
    else:
        time.sleep(0.5)  # the firmware settles
    totals, downtimes = [], []
    for hop in range(count):
        start = time.perf_counter()
        dom, downtime = migrate(dom, hop)
        totals.append(time.perf_counter() - start)
        downtimes.append(downtime)
    dom.destroy()
    return totals, downtimes


def run_side(
    label: str,
    define: Callable[[str], Any],
    migrate_for: Callable[[bool], Migrate],
    scratch: Path,
    count: int,
) -> dict[str, tuple[float, float]]:
    results = {}
    firmware = guest_xml(f"{label}-fw")
    totals, downs = hops(define, migrate_for(False), firmware, count, None)
    results["firmware 128 MiB"] = (median_ms(totals), _median(downs))
    name = f"{label}-linux"
    xml = linux_guest_xml(name, scratch)
    totals, downs = hops(
        define, migrate_for(True), xml, count, lambda: wait_booted(scratch / f"{name}.serial")
    )
    results["Linux guest (TCG)"] = (median_ms(totals), _median(downs))
    return results


def _median(values: list[float]) -> float:
    return median_ms([v / 1000.0 for v in values])


def table(libvirt: dict[str, tuple[float, float]], virtkit: dict[str, tuple[float, float]]) -> str:
    lines = [
        f"{'guest':<18}  {'libvirt total ms':>16}  {'virtkit total ms':>16}  "
        f"{'libvirt downtime ms':>19}  {'virtkit downtime ms':>19}  result",
    ]
    for guest, (l_total, l_down) in libvirt.items():
        v_total, v_down = virtkit[guest]
        ok = v_total <= TOTAL_TARGET_MS and v_down <= l_down
        lines.append(
            f"{guest:<18}  {l_total:>16.0f}  {v_total:>16.0f}  {l_down:>19.0f}  {v_down:>19.0f}  "
            f"{'pass' if ok else 'FAIL'}"
        )
    lines.append(f"target: virtkit total <= {TOTAL_TARGET_MS:.0f} ms, downtime <= libvirt's")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hops", type=int, default=5, help="migrations per guest (median)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="vkmig-"))
    try:
        libvirt = require_libvirt()
        with ExitStack() as stack:
            hosts = tuple(
                stack.enter_context(libvirt_host(scratch / f"libvirt{n}", n)) for n in (1, 2)
            )
            base = libvirt.VIR_MIGRATE_LIVE
            libvirt_results = run_side(
                "libvirt",
                hosts[0].defineXML,
                lambda unsafe: libvirt_migrator(
                    (hosts[0], hosts[1]), base | (libvirt.VIR_MIGRATE_UNSAFE if unsafe else 0)
                ),
                scratch,
                args.hops,
            )
        import virtkit

        with ExitStack() as stack:
            roots = [scratch / f"virtkit{n}" for n in (1, 2)]
            conns = tuple(
                stack.enter_context(virtkit.open(f"qemu:///embed?root={r}")) for r in roots
            )
            virtkit_results = run_side(
                "virtkit",
                conns[0].define_xml,
                lambda _unsafe: virtkit_migrator(conns),
                scratch,
                args.hops,
            )
    except BenchError as exc:
        print(f"bench_migration: {exc}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            subprocess.run(["rm", "-rf", str(scratch)], check=False)
    print(table(libvirt_results, virtkit_results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
