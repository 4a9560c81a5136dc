"""Test support: a real Xen host (a Xen 4.17 dom0 booted under QEMU by the shared setup script,
``../shared/sim/xen`` next to the repository, or ``$VIRTKIT_XEN_SETUP``) and small guests for it.

``$VIRTKIT_XEN_CACHE`` (default ``~/.cache/virtkit/xen``) keeps the built dom0 image.
``$VIRTKIT_XEN_SSH_PORT`` points the tests at a host from that cache that is already running
(in ``sshd`` mode on that port) instead of booting one.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[4]


def setup_script() -> Path:
    value = os.environ.get("VIRTKIT_XEN_SETUP")
    return Path(value) if value else REPO.parent / "shared" / "sim" / "xen" / "setup-xen-host.sh"


BOOT_TIMEOUT = 400.0
SSH_ATTEMPTS = 3

#: dom0 kernel arguments of every host. With both of the emulated CPUs online, the dom0's own
#: processes crashed now and then (xl's forked watcher with SIGSEGV or SIGABRT, bash, sshd: each
#: of two runs of the Xen tests failed on one); on one CPU none did in five runs, while Xen still
#: runs the guests on the other.
DOM0_ARGS = ("maxcpus=1",)


def cache_dir() -> Path:
    return Path(os.environ.get("VIRTKIT_XEN_CACHE") or Path.home() / ".cache" / "virtkit" / "xen")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class XenHost:
    """One booted Xen host: its URI, and a way to run commands on its dom0 for checks."""

    def __init__(
        self,
        name: str,
        mode: str,
        ssh_port: int,
        net: str | None = None,
        extra_args: tuple[str, ...] = (),
        memory_mib: int | None = None,
    ) -> None:
        cache = cache_dir()
        self.key = cache / "id_ed25519"
        self.port = ssh_port
        self.log = cache / f"{name}.log"
        env = {**os.environ, "SSH_PORT": str(ssh_port), "TMO": "3000"}
        if net:
            env["NET"] = net
        if memory_mib:
            env["MEM"] = str(memory_mib)
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [str(cache / "run-xen-host.sh"), mode, *DOM0_ARGS, *extra_args],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        self.uri = f"xen+ssh://root@127.0.0.1:{ssh_port}/system?keyfile={self.key}&no_verify=1"

    @classmethod
    def attach(cls, ssh_port: int) -> XenHost:
        """A host that runs already."""
        host = cls.__new__(cls)
        host.key, host.port = cache_dir() / "id_ed25519", ssh_port
        host.uri = f"xen+ssh://root@127.0.0.1:{ssh_port}/system?keyfile={host.key}&no_verify=1"
        return host

    def ssh_argv(self, *options: str) -> list[str]:
        """``ssh`` as root to the dom0 with the host's key and extra ``-o`` options; no command."""
        argv = ["ssh", "-T", "-i", str(self.key), "-p", str(self.port)]
        for option in (
            "BatchMode=yes",
            "StrictHostKeyChecking=no",
            "UserKnownHostsFile=/dev/null",
            "LogLevel=ERROR",
            *options,
        ):
            argv += ["-o", option]
        return [*argv, "root@127.0.0.1"]

    def ssh(self, command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.ssh_argv("ConnectTimeout=20"), command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def run(self, command: str, timeout: float = 120) -> str:
        """Run a check command on the dom0 and return its output. The commands the tests run
        are idempotent, so one that lost its SSH connection (exit 255, which a dom0 busy
        saving a guest under emulation has done) is tried again."""
        for attempt in range(SSH_ATTEMPTS):
            done = self.ssh(command, timeout)
            if done.returncode != 255:
                break
            time.sleep(2 * (attempt + 1))
        assert done.returncode == 0, (
            f"dom0 command {command!r} failed (exit {done.returncode}): {done.stderr}"
            f"{self.console_tail()}"
        )
        return done.stdout

    def emulation_faults(self, guest: str) -> list[str]:
        """What the SVM that QEMU's TCG emulates for this host does now and then to HVM and
        PVH guests, oldest first: Xen's log lines saying a guest triple-faulted, and the lines
        of ``guest``'s console log (numbered) where its kernel panicked."""
        return self.run(
            "xl dmesg | grep ' Triple fault';"
            f" grep -n 'Kernel panic' /var/log/xen/console/guest-{guest}.log; true"
        ).splitlines()

    def destroy_guest(self, name: str) -> None:
        """Destroy guest ``name`` if it exists, also while Xen restarts it (between its old
        and its new domain, ``xl`` knows neither)."""
        self.run(
            f"for i in 1 2 3 4 5; do xl destroy {name} 2>/dev/null;"
            f" sleep 1; xl domid {name} >/dev/null 2>&1 || break; done; true"
        )

    def console_tail(self, lines: int = 30) -> str:
        """The end of the host's serial console (Xen and dom0 kernel messages), for failures."""
        log = getattr(self, "log", None)
        if log is None or not log.is_file():
            return ""
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        return "\nhost console:\n" + "\n".join(tail)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + BOOT_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the Xen host exited during boot; see {self.log}")
            if b"READY sshd running" in self.log.read_bytes():
                try:
                    if self.ssh("xl list", timeout=60).returncode == 0:
                        return
                except subprocess.TimeoutExpired:
                    pass
            time.sleep(2)
        self.stop()
        pytest.fail(f"the Xen host did not come up within {BOOT_TIMEOUT:.0f} s; see {self.log}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(30)


def migration_pair() -> tuple[XenHost, XenHost]:
    """Two Xen hosts in ``sshd`` mode joined by a QEMU socket network on which they are
    10.99.0.1 and 10.99.0.2 (their second NIC); each is reachable over SSH as usual. A pair
    whose link does not come up is replaced (:data:`PAIR_ATTEMPTS`); the error names each
    attempt's interfaces."""
    problems = []
    for _ in range(PAIR_ATTEMPTS):
        hosts = _start_pair()
        try:
            problem = _link_problem(hosts)
        except BaseException:
            _stop_all(hosts)
            raise
        if problem is None:
            return hosts[0], hosts[1]
        _stop_all(hosts)
        problems.append(problem)
        warnings.warn(
            f"Xen test hosts' link did not come up, starting a new pair: {problem}", stacklevel=2
        )
    raise AssertionError(
        "the link between two Xen test hosts never came up: " + "; ".join(problems)
    )


def _stop_all(hosts: list[XenHost]) -> None:
    for host in hosts:
        host.stop()


PAIR_ATTEMPTS = 2
"""Pairs started before giving up on their link (once in CI it did not answer 60 pings)."""


def _start_pair() -> list[XenHost]:
    """Both hosts of :func:`migration_pair`, ready, with their addresses on the link."""
    link = free_port()
    hosts = []
    try:
        for index, side in ((1, f"listen=127.0.0.1:{link}"), (2, f"connect=127.0.0.1:{link}")):
            ssh_port = free_port()
            net = (
                f"-netdev user,id=n0,hostfwd=tcp:127.0.0.1:{ssh_port}-:22 "
                "-device virtio-net-pci,netdev=n0 "
                f"-netdev socket,id=n1,{side} -device virtio-net-pci,netdev=n1"
            )
            hosts.append(
                XenHost(
                    f"xen-mig-{index}",
                    "sshd",
                    ssh_port,
                    net=net,
                    memory_mib=2048,
                    extra_args=("xenip=10.0.2.15/24", "xengw=10.0.2.2"),
                )
            )
            time.sleep(2)  # the second host's socket connects to the first one's
        for index, host in enumerate(hosts, 1):
            host.wait_ready()
            host.run(
                "NIC=$(ls /sys/class/net | grep -v -E '^(lo|vif|xenbr)' | sed -n 2p); "
                f"ip link set $NIC up; ip addr add 10.99.0.{index}/24 dev $NIC"
            )
    except BaseException:
        _stop_all(hosts)
        raise
    return hosts


def _link_problem(hosts: list[XenHost]) -> str | None:
    """None when the first host reaches the second over the link within 60 pings, else what
    each host's interfaces were then."""
    ping = hosts[0].ssh(
        "for i in $(seq 1 60); do ping -c1 -W1 10.99.0.2 >/dev/null && exit 0; sleep 1; done;"
        " exit 1",
        timeout=200,
    )
    if ping.returncode == 0:
        return None
    interfaces = [host.ssh("ip -br link; ip -br addr", 30).stdout.strip() for host in hosts]
    return (
        f"no answer from 10.99.0.2 (exit {ping.returncode}); host 1: {interfaces[0]!r}; "
        f"host 2: {interfaces[1]!r}"
    )


def build_host_image() -> None:
    """Run the shared setup script (cheap once its cache exists), or fail saying what is missing."""
    setup = setup_script()
    if not setup.is_file():
        pytest.fail(
            f"the Xen host setup script is missing: expected {setup} (the shared "
            "'sim/xen' folder next to the repository, or set VIRTKIT_XEN_SETUP)"
        )
    cache_dir().mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["bash", str(setup), str(cache_dir())],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if done.returncode != 0:
        pytest.fail(f"building the Xen host failed: {done.stderr[-2000:]}")


GUEST_XML = """<domain type='xen'>
  <name>{name}</name>
  <memory unit='MiB'>{memory}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='{machine}'>{os_type}</type>
    <kernel>/boot/vmlinuz</kernel>
    <initrd>/root/guest-initrd.gz</initrd>
    <cmdline>console=hvc0 quiet</cmdline>
  </os>
  <clock offset='utc'>{timers}</clock>
  <on_poweroff>destroy</on_poweroff>
  <on_crash>destroy</on_crash>
  <devices>{devices}</devices>
</domain>
"""


def guest_xml(name: str, *, pvh: bool = False, memory: int = 128, devices: str = "") -> str:
    """A small guest from the dom0's own kernel and the busybox initramfs the setup script
    builds (it prints ``GUEST-OK`` and then ``tick N`` every second on its console)."""
    return GUEST_XML.format(
        name=name,
        memory=memory,
        devices=devices,
        machine="xenpvh" if pvh else "xenpv",
        os_type="xenpvh" if pvh else "linux",
        # PVH under QEMU's TCG needs the native TSC mode (see the shared README)
        timers="<timer name='tsc' mode='native'/>" if pvh else "",
    )


def console_waiter(host: XenHost) -> Callable[[str, str, float], str]:
    """``wait(name, pattern, timeout)``: wait until the guest's console log holds ``pattern``."""

    def wait(name: str, pattern: str, timeout: float = 240) -> str:
        log = f"/var/log/xen/console/guest-{name}.log"
        out = host.run(
            f"for i in $(seq 1 {int(timeout)}); do grep -q {pattern!r} {log} 2>/dev/null && break; "
            f"sleep 1; done; grep {pattern!r} {log} | tail -1",
            timeout=timeout + 60,
        )
        assert pattern.split()[0] in out, f"guest {name} never printed {pattern!r}"
        return out.strip()

    return wait
