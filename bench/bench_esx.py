"""ESX benchmark: virtkit's esx driver against libvirt 9.0's on the same vcsim.

Run: ``.venv/bin/python bench/bench_esx.py [--repeats N]``

One vcsim simulates a standalone ESX host. libvirt's esx driver cannot read vcsim's answers
directly, so both sides go through ``../shared/sim/esx/xsi_proxy.py`` (it only adds the
``xsi:type`` attributes libvirt needs), and both read the password from the same auth file.
Each repeat measures, on one VM, per side: list all domains, start, destroy, snapshot create
and revert (the snapshot is deleted afterwards, untimed). The table gives the medians; the
target is virtkit at or below libvirt's median (ratio = virtkit / libvirt <= 1).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from harness import REPO, BenchError, Row, format_table, median_ms, require_libvirt, timed

OPERATIONS = ("list", "start", "destroy", "snapshot create", "snapshot revert")
VM = "ha-host_VM0"
USER, PASSWORD = "bench", "bench-pass"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def xsi_proxy(upstream: int) -> Iterator[int]:
    """The shared proxy in front of vcsim; yields its port."""
    from virtkit_esx.vcsim import shared_dir

    script = shared_dir() / "sim" / "esx" / "xsi_proxy.py"
    if not script.is_file():
        raise BenchError(f"{script} is missing: libvirt's esx driver needs it to read vcsim")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, str(script), str(port), str(upstream)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        if "ready" not in proc.stdout.readline():
            raise BenchError(f"xsi_proxy.py did not start (status {proc.poll()})")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Side:
    """One client's connection and the workload through it."""

    name: str

    def list(self) -> None: ...
    def start(self) -> None: ...
    def destroy(self) -> None: ...
    def snapshot(self, name: str) -> Any: ...
    def revert(self, snap: Any) -> None: ...
    def delete(self, snap: Any) -> None: ...
    def close(self) -> None: ...


class LibvirtSide(Side):
    name = "libvirt"

    def __init__(self, uri: str) -> None:
        os.environ.setdefault("LIBVIRT_LOG_OUTPUTS", "1:file:/dev/null")  # its esx warnings
        libvirt = require_libvirt()
        self.conn = libvirt.open(uri)  # the password from LIBVIRT_AUTH_FILE
        self.dom = self.conn.lookupByName(VM)

    def list(self) -> None:
        self.conn.listAllDomains()

    def start(self) -> None:
        self.dom.create()

    def destroy(self) -> None:
        self.dom.destroy()

    def snapshot(self, name: str) -> Any:
        return self.dom.snapshotCreateXML(f"<domainsnapshot><name>{name}</name></domainsnapshot>")

    def revert(self, snap: Any) -> None:
        self.dom.revertToSnapshot(snap)

    def delete(self, snap: Any) -> None:
        snap.delete()

    def close(self) -> None:
        self.conn.close()


class VirtkitSide(Side):
    name = "virtkit"

    def __init__(self, uri: str) -> None:
        import virtkit

        self.conn = virtkit.open(uri)  # the password from VIRTKIT_AUTH_FILE
        self.dom = self.conn.lookup_by_name(VM)

    def list(self) -> None:
        self.conn.list_all_domains()

    def start(self) -> None:
        self.dom.create()

    def destroy(self) -> None:
        self.dom.destroy()

    def snapshot(self, name: str) -> Any:
        return self.dom.snapshot_create_xml(f"<domainsnapshot><name>{name}</name></domainsnapshot>")

    def revert(self, snap: Any) -> None:
        self.dom.revert_to_snapshot(snap)

    def delete(self, snap: Any) -> None:
        snap.delete()

    def close(self) -> None:
        self.conn.close()


def measure(side: Side, repeats: int) -> dict[str, list[float]]:
    """Each operation's durations in seconds; the VM ends as it began (running)."""
    samples: dict[str, list[float]] = {op: [] for op in OPERATIONS}

    def record(op: str, work: Callable[[], Any]) -> Any:
        seconds, result = timed(work)
        samples[op].append(seconds)
        return result

    for n in range(repeats):
        record("list", side.list)
        record("destroy", side.destroy)
        record("start", side.start)
        snap = record("snapshot create", partial(side.snapshot, f"bench-{side.name}-{n}"))
        record("snapshot revert", partial(side.revert, snap))
        side.delete(snap)
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=10, help="workload repeats (default 10)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO / "plugins" / "esx" / "src"))
    from virtkit_esx.vcsim import running_vcsim

    with (
        tempfile.TemporaryDirectory() as scratch,
        running_vcsim(esx=True) as sim,
        xsi_proxy(sim.port) as port,
    ):
        auth = Path(scratch) / "auth.conf"
        auth.write_text(
            f"[credentials-bench]\nauthname={USER}\npassword={PASSWORD}\n\n"
            "[auth-esx-127.0.0.1]\ncredentials=bench\n"
        )
        os.environ["VIRTKIT_AUTH_FILE"] = os.environ["LIBVIRT_AUTH_FILE"] = str(auth)
        uri = f"esx://{USER}@127.0.0.1:{port}/?no_verify=1"
        results = {}
        for make in (LibvirtSide, VirtkitSide):
            side = make(uri)
            try:
                results[side.name] = measure(side, args.repeats)
            finally:
                side.close()

    rows = [
        Row(
            operation=op,
            reference=median_ms(results["libvirt"][op]),
            candidate=median_ms(results["virtkit"][op]),
            target=1.0,
            higher_is_better=False,
        )
        for op in OPERATIONS
    ]
    print(f"ESX driver on vcsim through xsi_proxy, {args.repeats} repeats, medians")
    print(format_table(rows, "libvirt", "virtkit", "virtkit/libvirt"))
    return 0 if all(row.verdict == "pass" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
