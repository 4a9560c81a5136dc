"""Xen benchmark: virtkit's xen driver against plain ``xl`` over the same SSH, same host.

Run: ``.venv/bin/python bench/bench_xen.py [--repeats N] [--ssh-port PORT]``

Without ``--ssh-port`` it boots one Xen host from the shared setup script (see
``virtkit_xen.testhost``) and powers it off at the end. Both sides reach the dom0 through one
multiplexed OpenSSH connection each, and each has its own small PV guest. A repeat measures
list all domains, start, pause, resume, save, restore and destroy, each operation on both sides
back to back; who goes first alternates between repeats, since the load of a shared machine
drifts and the side that goes second meets the other side's guest just started or restored
(hence an even number of repeats, 6 by default). The table gives the medians of at least 3
repeats; the target is virtkit's time at most 20% over plain ``xl`` (ratio = virtkit / xl
<= 1.2).
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import tempfile
from collections.abc import Callable

import virtkit
from harness import BenchError, Row, format_table, median_ms, timed
from virtkit_xen.testhost import XenHost, build_host_image, free_port, guest_xml

OPERATIONS = ("list", "start", "pause", "resume", "save", "restore", "destroy")
TARGET = 1.2


class PlainXl:
    """``xl`` commands over a multiplexed SSH connection, as an operator would type them."""

    def __init__(self, host: XenHost) -> None:
        self.control = tempfile.mkdtemp(prefix="bench-xl-ssh-")
        self.ssh = host.ssh_argv(
            "ControlMaster=auto", f"ControlPath={self.control}/%C", "ControlPersist=60"
        )

    def __call__(self, command: str) -> str:
        done = subprocess.run([*self.ssh, command], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BenchError(f"xl: {command!r} failed: {done.stderr.strip()}")
        return done.stdout

    def close(self) -> None:
        subprocess.run(
            [*self.ssh[:-1], "-O", "exit", self.ssh[-1]], capture_output=True, check=False
        )


def xl_steps(xl: PlainXl, name: str, cfg: str) -> dict[str, Callable[[], object]]:
    image = f"/var/lib/xen/{name}.save"
    return {
        "list": lambda: xl("xl list"),
        "start": lambda: xl(f"xl create -q {cfg}"),
        "pause": lambda: xl(f"xl pause {name}"),
        "resume": lambda: xl(f"xl unpause {name}"),
        "save": lambda: xl(f"xl save {name} {image} >/dev/null"),
        "restore": lambda: xl(f"xl restore {image} >/dev/null"),
        "destroy": lambda: xl(f"xl destroy {name}"),
    }


def virtkit_steps(conn: virtkit.Connection, dom: virtkit.Domain) -> dict[str, Callable[[], object]]:
    image = f"/var/lib/xen/{dom.name()}.save"
    return {
        "list": conn.list_all_domains,
        "start": dom.create,
        "pause": dom.suspend,
        "resume": dom.resume,
        "save": lambda: dom.save(image),
        "restore": lambda: conn.restore(image),
        "destroy": dom.destroy,
    }


def one_repeat(
    sides: list[tuple[str, dict[str, Callable[[], object]], str]],
    xl: PlainXl,
    samples: dict[str, dict[str, list[float]]],
) -> None:
    """Each operation on both sides back to back (so both see the same load on this shared
    machine), then the next; after the starts, wait (untimed) until both guests have booted,
    since a guest still booting cannot answer the suspend request of a save."""
    for op in OPERATIONS:
        for side, steps, _ in sides:
            samples[side].setdefault(op, []).append(timed(steps[op])[0])
        if op == "start":
            for _, _, guest in sides:
                wait_booted(xl, guest)


def wait_booted(xl: PlainXl, name: str) -> None:
    log = f"/var/log/xen/console/guest-{name}.log"
    xl(
        f"for i in $(seq 1 300); do grep -q 'tick 1' {log} 2>/dev/null && exit 0; sleep 1; done;"
        f" echo 'guest {name} did not boot' >&2; exit 1"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--repeats", type=int, default=6, help="at least 3; even, so each side leads as often"
    )
    parser.add_argument("--ssh-port", type=int, help="a Xen host from the cache already running")
    args = parser.parse_args(argv)
    if args.repeats < 3:
        parser.error("--repeats: at least 3, for a median worth the name")
    if args.ssh_port:
        host = XenHost.attach(args.ssh_port)
    else:
        build_host_image()
        host = XenHost("xen-bench", "sshd", free_port())
        host.wait_ready()
    xl = PlainXl(host)
    conn = virtkit.open(host.uri)
    try:
        # the plain-xl guest is the same guest, written as xl.cfg by hand
        cfg = "/root/bench-xl.cfg"
        xml = guest_xml("bench-xl")
        xl(f"printf %s {shlex.quote(conn.domain_xml_to_native('xen-xl', xml))} > {cfg}")
        dom = conn.define_xml(guest_xml("bench-vk"))
        samples: dict[str, dict[str, list[float]]] = {"xl": {}, "virtkit": {}}
        sides = [
            ("xl", xl_steps(xl, "bench-xl", cfg), "bench-xl"),
            ("virtkit", virtkit_steps(conn, dom), "bench-vk"),
        ]
        for repeat in range(args.repeats):
            xl("rm -f /var/log/xen/console/guest-bench-*.log")
            # who goes first alternates, so neither side always meets a dom0 just woken up
            one_repeat(sides if repeat % 2 == 0 else sides[::-1], xl, samples)
    finally:
        xl("for d in bench-xl bench-vk; do xl destroy $d 2>/dev/null; done; true")
        if "bench-vk" in [d.name() for d in conn.list_all_domains()]:
            conn.lookup_by_name("bench-vk").undefine()
        conn.close()
        xl.close()
        if not args.ssh_port:
            host.stop()
    rows = [
        Row(
            operation=op,
            reference=median_ms(samples["xl"][op]),
            candidate=median_ms(samples["virtkit"][op]),
            target=TARGET,
            higher_is_better=False,
        )
        for op in OPERATIONS
    ]
    print(f"Xen host under QEMU (TCG), xen+ssh://, {args.repeats} repeats, medians")
    print(format_table(rows, "xl", "virtkit", "virtkit/xl"))
    return 0 if all(r.verdict == "pass" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
