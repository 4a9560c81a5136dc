"""Container interfaces as veth pairs: one end on the host (on a bridge for type='bridge'),
the other moved into the container's network namespace as ``eth0``, ``eth1``...

Uses iproute2's ``ip`` in batch mode: one run on the host, one inside the namespace.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence

from virtkit.errors import OperationFailedError

from virtkit_lxc.config import Interface
from virtkit_lxc.enter import run_inside

IP = "ip"


def _host_batch(commands: list[str], *, check: bool = True) -> None:
    try:
        result = subprocess.run(
            [IP, "-batch", "-"] if check else [IP, "-force", "-batch", "-"],
            input="\n".join(commands) + "\n",
            capture_output=True,
            text=True,
        )
    except FileNotFoundError:
        raise OperationFailedError(
            "cannot set up container interfaces: iproute2's 'ip' is not installed"
        ) from None
    if check and result.returncode != 0:
        raise OperationFailedError(f"ip failed: {result.stderr.strip()}")


def create_interfaces(interfaces: Sequence[Interface], init_pid: int) -> None:
    """Create every veth pair, the inner end in ``init_pid``'s network namespace, and bring
    both ends (and the container's loopback) up. On failure, removes what it created."""
    host = []
    inside = ["link set lo up"]
    for index, iface in enumerate(interfaces):
        inner = f"eth{index}"
        mac = f" address {iface.mac}" if iface.mac else ""
        host.append(f"link add {iface.host_name} type veth peer name {inner}{mac} netns {init_pid}")
        master = f" master {iface.bridge}" if iface.bridge else ""
        host.append(f"link set {iface.host_name}{master} up")
        inside.extend(f"addr add {address} dev {inner}" for address in iface.addresses)
        inside.append(f"link set {inner} up")
    try:
        if host:
            _host_batch(host)
        result = run_inside(
            init_pid,
            [IP, "-batch", "-"],
            cgroup=None,
            namespaces=("net",),
            input=("\n".join(inside) + "\n").encode(),
        )
        if result.returncode != 0:
            raise OperationFailedError(
                f"ip failed inside the container: {result.stderr.decode().strip()}"
            )
    except Exception:
        remove_interfaces([iface.host_name for iface in interfaces])
        raise


def remove_interfaces(host_names: Sequence[str]) -> None:
    """Delete the veth pairs whose host ends are still present (one end takes the pair)."""
    present = set(os.listdir("/sys/class/net"))
    gone = [f"link del {name}" for name in host_names if name in present]
    if gone:
        _host_batch(gone, check=False)
