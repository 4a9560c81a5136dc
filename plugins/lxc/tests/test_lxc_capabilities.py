"""``<features><capabilities>``: what a container's processes may do, as the kernel sees it in
the container (``/proc/1/status``), and an LXC config converted, defined, started, destroyed."""

from __future__ import annotations

from pathlib import Path

import pytest
import virtkit
from virtkit.constants import DomainState
from virtkit.errors import XMLError
from virtkit_lxc.capabilities import CAPABILITY_NUMBERS, DEFAULT_DROPPED, kernel_capabilities

# init tries to make a device node (CAP_MKNOD) and records whether it could, then sleeps
MKNOD_PROBE = (
    "-c",
    "if mknod /tmp/null c 1 3; then echo allowed; else echo denied; fi > /mknod; exec sleep 1000",
)


def parse_sets(status: str) -> dict[str, set[int]]:
    """CapBnd, CapEff, CapPrm and CapInh from a ``/proc/PID/status`` text."""
    sets = {}
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key in ("CapBnd", "CapEff", "CapPrm", "CapInh"):
            mask = int(value, 16)
            sets[key] = {n for n in range(64) if mask >> n & 1}
    return sets


def capability_sets(dom: virtkit.Domain) -> dict[str, set[int]]:
    """The capability sets of the container's init, read inside the container."""
    result = dom.lxc_enter_namespace(["cat", "/proc/1/status"], capture=True)
    assert result.returncode == 0, result.stderr.decode()
    return parse_sets(result.stdout.decode())


def host_bounding_set() -> set[int]:
    """What this process may have: a container can only have less (this machine's bounding
    set may lack some capabilities the kernel knows)."""
    return parse_sets(Path("/proc/self/status").read_text())["CapBnd"]


def numbers(*names: str) -> set[int]:
    return {CAPABILITY_NUMBERS[name] for name in names}


def start(conn, container_xml, rootfs: Path, name: str, features: str) -> virtkit.Domain:
    xml = container_xml(name, rootfs, args=MKNOD_PROBE, extra=f"<features>{features}</features>")
    return conn.create_xml(xml)


def wait_for(path: Path) -> str:
    import time

    deadline = time.monotonic() + 5
    while not path.exists() or not path.read_text():
        assert time.monotonic() < deadline, f"{path} was not written"
        time.sleep(0.01)
    return path.read_text().strip()


@pytest.mark.parametrize(
    ("policy", "features", "dropped"),
    [
        ("none given", "", set(numbers(*DEFAULT_DROPPED))),
        (
            "default",
            "<capabilities policy='default'><mknod state='on'/><sys_chroot state='off'/>"
            "</capabilities>",
            numbers(*DEFAULT_DROPPED, "sys_chroot") - numbers("mknod"),
        ),
        (
            "allow",
            "<capabilities policy='allow'><net_raw state='off'/></capabilities>",
            numbers("net_raw"),
        ),
        (
            "deny",
            "<capabilities policy='deny'><kill state='on'/><mknod state='on'/></capabilities>",
            set(kernel_capabilities()) - numbers("kill", "mknod"),
        ),
    ],
)
def test_policy_bounds_the_containers_capabilities(
    conn, rootfs, container_xml, policy: str, features: str, dropped: set[int]
) -> None:
    dom = start(conn, container_xml, rootfs, f"caps-{policy.split()[0]}", features)
    sets = capability_sets(dom)
    expected = host_bounding_set() - dropped
    assert sets["CapBnd"] == expected, f"bounding set under {policy}"
    assert sets["CapEff"] == sets["CapPrm"] == expected, "init's effective and permitted sets"
    assert sets["CapInh"] <= expected
    may_mknod = CAPABILITY_NUMBERS["mknod"] not in dropped
    assert wait_for(rootfs / "mknod") == ("allowed" if may_mknod else "denied")
    if policy == "none given":  # libvirt keeps sys_boot: init may reboot its pid namespace
        assert CAPABILITY_NUMBERS["sys_boot"] in sets["CapBnd"]
    dom.destroy()


@pytest.mark.parametrize(
    ("features", "message"),
    [
        ("<capabilities policy='maybe'/>", "policy='maybe' is not one of default, allow, deny"),
        ("<capabilities><fly state='on'/></capabilities>", "<fly> is no capability"),
        ("<capabilities><kill state='yes'/></capabilities>", "<kill> needs state='on'"),
    ],
)
def test_bad_capabilities_are_refused_naming_the_element(
    conn, rootfs, container_xml, features: str, message: str
) -> None:
    xml = container_xml("badcaps", rootfs, extra=f"<features>{features}</features>")
    with pytest.raises(XMLError, match=message):
        conn.define_xml(xml)
    assert conn.list_all_domains() == []


LXC_CONFIG = """\
# an LXC 3.0 configuration as lxc-create writes one
lxc.uts.name = native1
lxc.rootfs.path = {rootfs}
lxc.arch = x86_64
lxc.autodev = 1
lxc.tty.max = 1
lxc.cap.drop = sys_module mknod sys_time
lxc.mount.entry = {data} data none bind,ro 0 0
lxc.mount.entry = tmpfs run tmpfs size=8M 0 0
lxc.mount.entry = proc proc proc nodev,noexec,nosuid 0 0

# limits
lxc.cgroup.memory.limit_in_bytes = 67108864
lxc.cgroup.memory.soft_limit_in_bytes = 33554432
lxc.cgroup.cpu.shares = 512
"""


def test_a_converted_lxc_config_defines_and_runs(conn, rootfs, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "hello").write_text("from the host\n")
    text = LXC_CONFIG.format(rootfs=rootfs, data=data)
    xml = conn.domain_xml_from_native("lxc-tools", text)
    assert "<capabilities policy='allow'>" in xml.replace('"', "'")
    dom = conn.define_xml(xml)
    dom.create()  # /sbin/init: busybox init
    assert dom.state()[0] == DomainState.RUNNING
    sets = capability_sets(dom)
    dropped = numbers("sys_module", "mknod", "sys_time")
    assert sets["CapBnd"] == host_bounding_set() - dropped
    seen = dom.lxc_enter_namespace(
        ["sh", "-c", "hostname; cat /data/hello; grep ' /run ' /proc/mounts"], capture=True
    )
    hostname, hello, run_mount = seen.stdout.decode().splitlines()
    assert (hostname, hello) == ("native1", "from the host")
    assert run_mount.startswith("tmpfs /run tmpfs") and "size=8192k" in run_mount
    init_pid = dom.id()
    dom.destroy()
    assert dom.state()[0] == DomainState.SHUTOFF
    assert not Path(f"/proc/{init_pid}/ns").exists()
    dom.undefine()
