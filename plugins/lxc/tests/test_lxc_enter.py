"""``lxc-enter-namespace`` through the API and the CLI: the program runs in the container's
namespaces (hostname, pid namespace, root) and cgroups, and its exit status comes back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import virtkit
from virtkit.errors import InvalidArgumentError, OperationInvalidError

PROBE = "hostname; readlink /proc/self/ns/pid; cat /where; cat /proc/self/cgroup; exit 7"


def check_probe_output(output: str, dom: virtkit.Domain) -> None:
    """What the probe printed is the container's, not the host's."""
    hostname, pid_ns, where, *cgroups = output.splitlines()
    init_pid = dom.id()
    assert hostname == dom.name()
    assert pid_ns == os.readlink(f"/proc/{init_pid}/ns/pid") != os.readlink("/proc/self/ns/pid")
    assert where == "container root"
    assert sorted(cgroups) == sorted(Path(f"/proc/{init_pid}/cgroup").read_text().splitlines())
    assert any("/lxc-" in line and line.endswith(f"/{dom.name()}") for line in cgroups)


@pytest.fixture
def running(conn, rootfs, container_xml) -> virtkit.Domain:
    (rootfs / "where").write_text("container root\n")
    return conn.create_xml(container_xml("enter1", rootfs))


def test_through_the_api(running: virtkit.Domain) -> None:
    result = running.lxc_enter_namespace(["sh", "-c", PROBE], capture=True)
    assert result.returncode == 7, result.stderr.decode()
    check_probe_output(result.stdout.decode(), running)
    killed = running.lxc_enter_namespace(["sh", "-c", "kill -9 $$"], capture=True)
    assert killed.returncode == 128 + 9
    with pytest.raises(InvalidArgumentError, match="needs a program"):
        running.lxc_enter_namespace([])


def test_through_the_cli(running: virtkit.Domain) -> None:
    uri = running.connect().get_uri()
    command = [sys.executable, "-m", "virtkit.cli", "-c", uri, "lxc-enter-namespace"]
    done = subprocess.run(
        [*command, "enter1", "--", "sh", "-c", PROBE], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 7, done.stderr
    check_probe_output(done.stdout, running)
    missing = subprocess.run(
        [*command, "enter1", "--", "/no/such/program"], capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 1
    assert "Failed to run '/no/such/program' in domain 'enter1'" in missing.stderr
    assert "No such file" in missing.stderr


def test_a_stopped_container_is_refused(running: virtkit.Domain) -> None:
    running.connect().define_xml(running.xml_desc())
    running.destroy()
    with pytest.raises(OperationInvalidError, match="not running"):
        running.lxc_enter_namespace(["true"], capture=True)
