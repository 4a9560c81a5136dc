"""LXC start and destroy: libvirt 9.0's LXC driver against virtkit's, same container, one run.

Run (as root): ``.venv/bin/python bench/bench_lxc.py [--repeats N] [--keep]``

The container: a busybox-static root directory (``/bin/busybox`` and its applet links), init
``/bin/sleep 1000000``, 64 MiB memory limit, one vCPU, a pty console, the host's network (no
interfaces). libvirt runs it through ``lxc:///system`` on a private libvirtd (see
:mod:`private_libvirtd`; the empty cgroup2 mount at ``/sys/fs/cgroup/unified`` is unmounted in
its namespace only), virtkit through ``lxc:///embed?root=<scratch>``, both from the same root
directory. Each repeat starts and destroys it once per side, the side that goes first
alternating; one unmeasured start and destroy per side warms up first.

- start: from the call until the API has returned with the domain running and the container's
  init (pid 1 of its pid namespace, found by its ``LIBVIRT_LXC_NAME``) executes busybox;
- destroy: from the call until the API has returned with the domain shut off and init gone.

After each destroy (outside the timing) the benchmark checks that nothing is left: no process
in the container's pid namespace, no supervisor (init's parent: ``libvirt_lxc`` or virtkit's),
none of the container's cgroups, no mount of its root directory; and after each start that the
memory limit is in force. Any of these failing stops the run with what was found.

Targets (issue 4): virtkit's start median at or below libvirt's; destroy at most 50 ms.
Exit status 0 when both are met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any, Protocol

import attrs
from harness import (
    BenchError,
    Row,
    format_table,
    median_ms,
    require_libvirt,
    scratch_dir,
    timed,
)
from private_libvirtd import private_libvirtd

MEMORY_MIB = 64
INIT = ("/bin/sleep", "1000000")
BUSYBOX = "/bin/busybox"
RUNNING, SHUTOFF = 1, 5  # libvirt's (and virtkit's) DomainState values
SETTLE_TIMEOUT = 10.0
DESTROY_BUDGET_MS = 50.0
ISSUE_REFERENCE_MS = {"start": 52.0, "destroy": 1800.0}
"""libvirt's medians on this kind of machine, from issue 4, to compare with."""
LXC_CONF = 'security_driver = "none"\n'
CGROUP_V1 = Path("/sys/fs/cgroup")

CONTAINER_XML = """\
<domain type='lxc'>
  <name>{name}</name>
  <uuid>{uuid}</uuid>
  <memory unit='MiB'>{memory}</memory>
  <vcpu>1</vcpu>
  <os>
    <type>exe</type>
    <init>{init}</init>{initargs}
  </os>
  <devices>
    <filesystem type='mount'>
      <source dir='{root}'/>
      <target dir='/'/>
    </filesystem>
    <console type='pty'/>
  </devices>
</domain>
"""


def container_xml(name: str, rootfs: Path) -> str:
    initargs = "".join(f"\n    <initarg>{arg}</initarg>" for arg in INIT[1:])
    return CONTAINER_XML.format(
        name=name,
        uuid=uuid.uuid4(),
        memory=MEMORY_MIB,
        init=INIT[0],
        initargs=initargs,
        root=rootfs,
    )


def build_rootfs(target: Path) -> Path:
    """The root directory both sides run: busybox-static and links for the applets used."""
    if not os.path.isfile(BUSYBOX) or b"ld-linux" in Path(BUSYBOX).read_bytes()[:4096]:
        raise BenchError(f"{BUSYBOX} is missing or not static: install busybox-static")
    for sub in ("bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "root"):
        (target / sub).mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, target / "bin" / "busybox")
    for applet in ("sh", "sleep"):
        (target / "bin" / applet).symlink_to("busybox")
    return target


# ---------------------------------------------------------------------- what the container is


@attrs.frozen(kw_only=True)
class Container:
    """A started container as the host sees it, for the checks after destroy."""

    init_pid: int
    supervisor_pid: int
    pid_namespace: int
    cgroups: tuple[Path, ...]
    """Directories of the cgroup hierarchies init is in, where they are not the bench's own."""


def alive(pid: int) -> bool:
    """Whether ``pid`` runs: a zombie has ended (reaping it is its parent's business, here
    often the host's pid 1 for a double-forked supervisor)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat.rsplit(b")", 1)[1].split()[0] != b"Z"


def read_environ(pid: int) -> bytes:
    with suppress(OSError):
        return Path(f"/proc/{pid}/environ").read_bytes()
    return b""


def find_init(name: str, busybox: os.stat_result) -> int | None:
    """The pid of the container's init once it executes busybox, else ``None``."""
    marker = f"LIBVIRT_LXC_NAME={name}\0".encode()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            exe = os.stat(f"/proc/{entry.name}/exe")
        except OSError:
            continue
        if (exe.st_dev, exe.st_ino) == (busybox.st_dev, busybox.st_ino) and marker in (
            b"\0" + read_environ(int(entry.name))
        ):
            return int(entry.name)
    return None


def wait_for(what: str, probe: Callable[[], Any]) -> Any:
    """``probe()``'s first true result, polled every millisecond up to :data:`SETTLE_TIMEOUT`."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while not (result := probe()):
        if time.monotonic() > deadline:
            raise BenchError(f"{what} did not happen within {SETTLE_TIMEOUT:g} s")
        time.sleep(0.001)
    return result


def own_cgroups(pid: int | str) -> dict[str, str]:
    """Hierarchy name (``memory``, ``name=systemd``, ``""`` for cgroup2) to ``pid``'s path."""
    lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    return {hierarchy: path for _, hierarchy, path in (line.split(":", 2) for line in lines)}


def hierarchy_dir(hierarchy: str) -> Path:
    if not hierarchy:
        return CGROUP_V1 / "unified"
    return CGROUP_V1 / hierarchy.removeprefix("name=")


def describe(init_pid: int) -> Container:
    status = Path(f"/proc/{init_pid}/status").read_text()
    ppid = int(next(line for line in status.splitlines() if line.startswith("PPid:")).split()[1])
    ours = own_cgroups("self")
    cgroups = tuple(
        hierarchy_dir(h) / path.lstrip("/")
        for h, path in own_cgroups(init_pid).items()
        if path != ours.get(h)
    )
    return Container(
        init_pid=init_pid,
        supervisor_pid=ppid,
        pid_namespace=os.stat(f"/proc/{init_pid}/ns/pid").st_ino,
        cgroups=cgroups,
    )


def check_memory_limit(container: Container) -> None:
    memory = [p for p in container.cgroups if p.is_relative_to(CGROUP_V1 / "memory")]
    files = [d / "memory.limit_in_bytes" for d in memory] + [
        d / "memory.max" for d in container.cgroups if (d / "memory.max").exists()
    ]
    limits = {int(f.read_text()) for f in files if f.exists()}
    if MEMORY_MIB * 1024 * 1024 not in limits:
        raise BenchError(f"the container's memory limit is not {MEMORY_MIB} MiB: {files} {limits}")


def leftovers(container: Container, rootfs: Path) -> list[str]:
    """What of ``container`` is still on the host."""
    left = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with suppress(OSError):
                same_ns = os.stat(f"/proc/{entry.name}/ns/pid").st_ino == container.pid_namespace
                if same_ns and alive(int(entry.name)):
                    left.append(f"process {entry.name} in the container's pid namespace")
    if alive(container.supervisor_pid):
        left.append(f"supervisor process {container.supervisor_pid}")
    left += [f"cgroup {path}" for path in container.cgroups if path.exists()]
    if str(rootfs) in Path("/proc/self/mountinfo").read_text():
        left.append(f"a mount of {rootfs}")
    return left


# ---------------------------------------------------------------------- the sides


class Dom(Protocol):
    def create(self) -> object: ...
    def destroy(self) -> object: ...
    def state(self) -> tuple[int, int]: ...
    def undefine(self) -> object: ...


class LibvirtDom:
    """A libvirt-python ``virDomain`` under virtkit's names."""

    def __init__(self, dom: Any) -> None:
        self.dom = dom
        self.create = dom.create
        self.destroy = dom.destroy
        self.undefine = dom.undefine

    def state(self) -> tuple[int, int]:
        state, reason = self.dom.state(0)
        return int(state), int(reason)


@contextmanager
def libvirt_side(scratch: Path, xml: str) -> Iterator[Dom]:
    """The container defined on libvirt 9.0's LXC driver, on a private libvirtd."""
    with private_libvirtd(
        scratch,
        "lxc",
        driver_conf={"lxc.conf": LXC_CONF},
        unmount=["/sys/fs/cgroup/unified"],
    ) as conn:
        dom = conn.defineXML(xml)
        try:
            yield LibvirtDom(dom)
        finally:
            if dom.isActive():
                dom.destroy()
            dom.undefine()


@contextmanager
def virtkit_side(scratch: Path, xml: str) -> Iterator[Dom]:
    """The container defined on virtkit's LXC driver, embedded in ``scratch``."""
    import virtkit

    with virtkit.open(f"lxc:///embed?root={scratch}") as conn:
        dom = conn.define_xml(xml)
        try:
            yield dom
        finally:
            if dom.is_active():
                dom.destroy()
            dom.undefine()


SIDES = {"libvirt": libvirt_side, "virtkit": virtkit_side}


# ---------------------------------------------------------------------- the workload


@attrs.define
class Run:
    """One side's container and its samples (seconds)."""

    name: str
    dom: Dom
    start: list[float] = attrs.Factory(list)
    destroy: list[float] = attrs.Factory(list)


def expect_state(run: Run, state: int, after: str) -> None:
    actual = run.dom.state()[0]
    if actual != state:
        raise BenchError(f"{run.name}: after {after} the state is {actual}, expected {state}")


def cycle(run: Run, rootfs: Path, busybox: os.stat_result, *, record: bool) -> None:
    """Start and destroy ``run``'s container once, checking each step's result."""

    def start() -> int:
        run.dom.create()
        expect_state(run, RUNNING, "start")
        pid: int = wait_for(f"{run.name}: init executing", lambda: find_init(run.name, busybox))
        return pid

    start_seconds, init_pid = timed(start)
    container = describe(init_pid)
    check_memory_limit(container)

    def destroy() -> None:
        run.dom.destroy()
        expect_state(run, SHUTOFF, "destroy")
        wait_for(f"{run.name}: init gone", lambda: not alive(init_pid))

    destroy_seconds, _ = timed(destroy)
    left = leftovers(container, rootfs)
    if left:
        raise BenchError(f"{run.name}: destroy left {', '.join(left)}")
    if record:
        run.start.append(start_seconds)
        run.destroy.append(destroy_seconds)


def measure(scratch: Path, repeats: int) -> dict[str, Run]:
    rootfs = build_rootfs(scratch / "rootfs")
    busybox = os.stat(rootfs / "bin" / "busybox")
    runs: dict[str, Run] = {}
    with ExitStack() as stack:
        for label, side in SIDES.items():
            (scratch / label).mkdir()
            name = f"vkbench-{label}"
            print(f"{label}: preparing", file=sys.stderr)
            runs[label] = Run(
                name, stack.enter_context(side(scratch / label, container_xml(name, rootfs)))
            )
        order = list(runs.values())
        for run in order:
            cycle(run, rootfs, busybox, record=False)
        for n in range(repeats):
            for run in order if n % 2 == 0 else reversed(order):
                cycle(run, rootfs, busybox, record=True)
    return runs


# ---------------------------------------------------------------------- report


def detail_table(runs: dict[str, Run]) -> str:
    lines = [f"{'side':<9} {'operation':<9} {'median ms':>10} {'min ms':>8} {'max ms':>8}"]
    for label, run in runs.items():
        for op, values in (("start", run.start), ("destroy", run.destroy)):
            lines.append(
                f"{label:<9} {op:<9} {median_ms(values):>10.2f} {min(values) * 1000:>8.2f} "
                f"{max(values) * 1000:>8.2f}"
            )
    refs = ", ".join(f"{op} {ms:g} ms" for op, ms in ISSUE_REFERENCE_MS.items())
    lines.append(f"(libvirt's medians in issue 4: {refs})")
    return "\n".join(lines)


def comparison_rows(libvirt: Run, candidate: Run) -> list[Row]:
    """Issue 4's targets: start at or below libvirt's median, destroy at most 50 ms."""
    return [
        Row(
            operation="start (init executing)",
            reference=median_ms(libvirt.start),
            candidate=median_ms(candidate.start),
            target=1.0,
            higher_is_better=False,
        ),
        Row(
            operation="destroy (nothing left)",
            reference=median_ms(libvirt.destroy),
            candidate=median_ms(candidate.destroy),
            target=None,
            higher_is_better=False,
        ),
        Row(
            operation=f"destroy vs {DESTROY_BUDGET_MS:g} ms budget",
            reference=DESTROY_BUDGET_MS,
            candidate=median_ms(candidate.destroy),
            target=1.0,
            higher_is_better=False,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=10, help="samples per side (default 10)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if os.geteuid() != 0:
        raise BenchError("containers need root: run the benchmark as root")
    require_libvirt()
    load_before = os.getloadavg()[0]
    with scratch_dir("virtkit-bench-lxc-", keep=args.keep) as scratch:
        runs = measure(scratch, args.repeats)

    print(
        f"\nbusybox container ({INIT[0]} as init, {MEMORY_MIB} MiB), {args.repeats} samples per "
        f"side, after one warm-up; load average {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after, {os.cpu_count()} CPUs"
    )
    print(detail_table(runs))
    rows = comparison_rows(runs["libvirt"], runs["virtkit"])
    print("\nvirtkit against libvirt (ratio = time / reference time)")
    print(format_table(rows, "reference", "virtkit", "ratio"))
    return 0 if all(row.verdict in ("pass", "") for row in rows) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
