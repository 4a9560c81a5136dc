"""Real containers: namespaces, limits, freezer, stop paths, and what is left afterwards."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
import virtkit
from virtkit.constants import (
    DomainEventStoppedDetail,
    DomainEventType,
    DomainShutdownFlags,
    DomainShutoffReason,
    DomainState,
)
from virtkit.errors import (
    ConfigUnsupportedError,
    OperationFailedError,
    OperationInvalidError,
    XMLError,
)
from virtkit_lxc.cgroups import Cgroup
from virtkit_lxc.status import process_start_time


def inside(dom: virtkit.Domain, script: str) -> str:
    result = dom.lxc_enter_namespace(["/bin/sh", "-c", script], capture=True)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def cgroup_folders(conn: virtkit.Connection, name: str) -> list[Path]:
    return Cgroup(f"{conn._driver.cgroup_prefix}/{name}").folders()


def _children_of_this_process() -> set[tuple[str, str]]:
    """(pid, state) of this process's children: the client reaps what it forks (the double
    fork's intermediate process), so a test must end with no child it did not start with."""
    children = set()
    for entry in os.listdir("/proc"):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            if entry.isdigit() and int(fields[1]) == os.getpid():
                children.add((entry, fields[0]))
    return children


_CHILDREN_BEFORE_TEST: set[tuple[str, str]] = set()


@pytest.fixture(autouse=True)
def _note_children_before_test() -> None:
    """Other tests' session fixtures (simulators, hosts) are children of this process too."""
    _CHILDREN_BEFORE_TEST.clear()
    _CHILDREN_BEFORE_TEST.update(_children_of_this_process())


def assert_nothing_left(conn: virtkit.Connection, name: str, pid_ns: str, root: Path) -> None:
    """No process in the container's pid namespace (a zombie waiting for the host's init to
    reap it has ended), no cgroup folder, no mount on the host."""
    for entry in os.listdir("/proc"):
        if entry.isdigit() and process_start_time(int(entry)) is not None:
            with contextlib.suppress(OSError):
                assert os.readlink(f"/proc/{entry}/ns/pid") != pid_ns, f"process {entry} survived"
    assert not [p for p in cgroup_folders(conn, name) if p.exists()], "cgroup folders left"
    with open("/proc/self/mountinfo") as fh:
        assert str(root) not in fh.read(), "a mount of the container is visible on the host"
    left = sorted(_children_of_this_process() - _CHILDREN_BEFORE_TEST)
    assert left == [], "processes (pid, state) the client forked and left behind"


def test_runs_in_its_own_namespaces_with_its_own_root(conn, rootfs, container_xml) -> None:
    (rootfs / "marker").write_text("inside\n")
    dom = conn.create_xml(container_xml("ns1", rootfs))
    init_pid = dom.id()
    out = inside(
        dom,
        "echo $$; cat /proc/1/cmdline | tr '\\0' ' '; echo; hostname; cat /marker; "
        "ls /proc/1/root/",
    )
    my_pid, cmdline, hostname, marker, *_ = out.splitlines()
    assert cmdline.strip() == "/bin/sh -c exec sleep 1000" or cmdline.startswith("sleep")
    assert int(my_pid) < 100, "pids inside start from 1"
    assert hostname == "ns1" and marker == "inside"
    for ns in ("pid", "mnt", "uts", "ipc"):
        assert os.readlink(f"/proc/{init_pid}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}"), ns
    assert os.readlink(f"/proc/{init_pid}/root") == "/"  # its own root, pivoted
    assert os.stat(f"/proc/{init_pid}/root/marker").st_ino == os.stat(rootfs / "marker").st_ino
    assert f"{conn._driver.cgroup_prefix}/ns1" in inside(dom, "cat /proc/self/cgroup")
    mounts = inside(dom, "cat /proc/mounts")
    assert "proc /proc proc" in mounts and "sysfs /sys sysfs ro" in mounts
    assert "devpts /dev/pts devpts" in mounts and str(rootfs) not in inside(dom, "ls /")
    assert inside(dom, "ls /dev").split() >= ["console", "fd", "full", "null"]


def test_memory_hog_is_killed_and_the_container_survives(conn, rootfs, container_xml) -> None:
    dom = conn.create_xml(container_xml("mem1", rootfs, memory_kib=32 * 1024))
    limit = Cgroup(f"{conn._driver.cgroup_prefix}/mem1")
    name = "memory.max" if limit.v2 else "memory.limit_in_bytes"
    assert int((limit.dirs["memory"] / name).read_text()) == 32 << 20
    assert int((limit.dirs["pids"] / "pids.max").read_text()) > 0
    hog = dom.lxc_enter_namespace(
        ["dd", "if=/dev/zero", "of=/dev/null", "bs=96M", "count=1"], capture=True
    )
    assert hog.returncode == 128 + signal.SIGKILL, hog
    assert dom.state()[0] == DomainState.RUNNING
    assert inside(dom, "echo alive") == "alive\n"


def test_destroy_ends_the_pid_namespace_and_leaves_nothing(conn, rootfs, container_xml) -> None:
    dom = conn.define_xml(
        container_xml("gone1", rootfs, args=("-c", "sleep 1000 & sleep 1000 & exec sleep 1000"))
    )
    starts, destroys = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        dom.create()
        starts.append(time.perf_counter() - t0)
        pid_ns = os.readlink(f"/proc/{dom.id()}/ns/pid")
        assert len(inside(dom, "ps -o pid").split()) >= 4
        t0 = time.perf_counter()
        dom.destroy()
        destroys.append(time.perf_counter() - t0)
        assert dom.state() == (DomainState.SHUTOFF, DomainShutoffReason.DESTROYED)
        assert_nothing_left(conn, "gone1", pid_ns, rootfs)
    print(
        f"\nlxc start median {sorted(starts)[1] * 1000:.1f} ms, "
        f"destroy median {sorted(destroys)[1] * 1000:.1f} ms"
    )
    assert sorted(destroys)[1] < 0.5, "destroy is far slower than the 50 ms target"


def test_container_outlives_the_process_that_started_it(
    conn, rootfs, container_xml, tmp_path
) -> None:
    uri = conn.get_uri()
    conn.define_xml(container_xml("keep1", rootfs))
    starter = textwrap.dedent(f"""
        import virtkit
        with virtkit.open({uri!r}) as conn:
            dom = conn.lookup_by_name("keep1")
            dom.create()
            print(dom.id())
    """)
    done = subprocess.run(
        [sys.executable, "-c", starter], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    init_pid = int(done.stdout)
    with virtkit.open(uri) as other:
        dom = other.lookup_by_name("keep1")
        assert dom.is_active() and dom.id() == init_pid
        assert inside(dom, "hostname") == "keep1\n"
        pid_ns = os.readlink(f"/proc/{init_pid}/ns/pid")
        dom.destroy()
    assert_nothing_left(conn, "keep1", pid_ns, rootfs)


def test_bad_definitions_fail_clearly_and_leave_nothing(
    conn, rootfs, container_xml, tmp_path
) -> None:
    embed = tmp_path / "embed"
    with pytest.raises(ConfigUnsupportedError, match="<sound>"):
        conn.define_xml(container_xml("bad1", rootfs, extra_devices="<sound model='ich6'/>"))
    assert not (embed / "etc/bad1.xml").exists()
    with pytest.raises(XMLError, match="root filesystem of container 'bad2' not found"):
        conn.create_xml(container_xml("bad2", tmp_path / "no-such-root"))
    with pytest.raises(XMLError, match="init of container 'bad3' not found: '/sbin/nothing'"):
        conn.create_xml(container_xml("bad3", rootfs, init="/sbin/nothing"))
    dom = conn.define_xml(container_xml("bad4", rootfs, init="/sbin/nothing"))
    with pytest.raises(XMLError, match="init of container 'bad4' not found"):
        dom.create()
    assert dom.state()[0] == DomainState.SHUTOFF
    assert [d.name() for d in conn.list_all_domains()] == ["bad4"]
    for name in ("bad2", "bad3", "bad4"):
        assert not [p for p in cgroup_folders(conn, name) if p.exists()]
        assert not (embed / f"run/{name}.json").exists()


def test_init_failing_in_the_container_is_reported(conn, rootfs, container_xml) -> None:
    (rootfs / "bin/broken").write_text("not an executable format")
    (rootfs / "bin/broken").chmod(0o755)
    with pytest.raises(OperationFailedError, match="Exec format error"):
        conn.create_xml(container_xml("bad5", rootfs, init="/bin/broken"))
    assert not [p for p in cgroup_folders(conn, "bad5") if p.exists()]
    assert conn.list_all_domains() == []


def test_suspend_and_resume_with_the_freezer(conn, rootfs, container_xml) -> None:
    dom = conn.create_xml(
        container_xml(
            "frz1", rootfs, args=("-c", "while :; do echo . >> /tmp/ticks; sleep 0.01; done")
        )
    )
    ticks = Path(f"/proc/{dom.id()}/root/tmp/ticks")
    time.sleep(0.1)
    dom.suspend()
    assert dom.state() == (DomainState.PAUSED, 1)
    before = ticks.stat().st_size
    time.sleep(0.2)
    assert ticks.stat().st_size == before, "the container kept running while frozen"
    with pytest.raises(OperationInvalidError, match="already paused"):
        dom.suspend()
    dom.resume()
    assert dom.state()[0] == DomainState.RUNNING
    time.sleep(0.2)
    assert ticks.stat().st_size > before
    dom.suspend()
    dom.destroy()  # a frozen container is destroyed too
    assert conn.list_all_domains() == []  # a transient container is gone once destroyed


def test_shutdown_signals_init_then_times_out_into_destroy(conn, rootfs, container_xml) -> None:
    events = []
    conn.domain_event_register(lambda c, d, ev, detail, o: events.append((ev, detail)))
    polite = conn.define_xml(
        container_xml("sd1", rootfs, args=("-c", "trap 'exit 0' PWR; while :; do sleep 0.02; done"))
    )
    with pytest.raises(ConfigUnsupportedError, match="start with flag START_AUTODESTROY"):
        polite.create(autodestroy=True)  # refused, not ignored: it would outlive the caller
    assert not polite.is_active()
    polite.create()
    with pytest.raises(ConfigUnsupportedError, match="LXC driver does not .* flag INITCTL"):
        polite.shutdown(DomainShutdownFlags.INITCTL, timeout=5)  # no initctl, only a signal
    assert polite.is_active()
    polite.shutdown(DomainShutdownFlags.SIGNAL, timeout=5)
    assert polite.state() == (DomainState.SHUTOFF, DomainShutoffReason.SHUTDOWN)
    stubborn = conn.define_xml(container_xml("sd2", rootfs))  # sleep ignores SIGPWR as pid 1
    stubborn.create()
    t0 = time.perf_counter()
    stubborn.shutdown(timeout=0.3)
    assert 0.3 <= time.perf_counter() - t0 < 3
    assert stubborn.state() == (DomainState.SHUTOFF, DomainShutoffReason.DESTROYED)
    deadline = time.monotonic() + 2
    while len(events) < 6 and time.monotonic() < deadline:
        time.sleep(0.01)
    stopped = [detail for ev, detail in events if ev == DomainEventType.STOPPED]
    assert stopped == [DomainEventStoppedDetail.SHUTDOWN, DomainEventStoppedDetail.DESTROYED]


def test_reboot_starts_a_fresh_container(conn, rootfs, container_xml) -> None:
    dom = conn.create_xml(
        container_xml("rb1", rootfs, args=("-c", "echo boot >> /boots; exec sleep 1000"))
    )
    boots = rootfs / "boots"

    def wait_for_boots(count: int) -> None:  # a new init runs once its pid is known, soon
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (
            not boots.exists() or boots.read_text().count("boot") < count
        ):
            time.sleep(0.01)
        assert boots.read_text() == "boot\n" * count

    wait_for_boots(1)
    first = dom.id()
    dom.reboot()
    assert dom.is_active() and dom.id() != first
    wait_for_boots(2)
    # init asking the kernel to reboot restarts it too
    second = dom.id()
    dom.lxc_enter_namespace(["reboot", "-f"], capture=True)
    deadline = time.monotonic() + 5
    while dom.id() in (second, -1) and time.monotonic() < deadline:
        time.sleep(0.01)
    wait_for_boots(3)
    assert dom.is_active() and dom.id() not in (first, second)


def test_console_pty_reaches_the_containers_console(conn, rootfs, container_xml) -> None:
    dom = conn.create_xml(container_xml("con1", rootfs, args=()))  # an interactive shell
    path = dom.open_console()  # what `virtkit console` attaches to
    assert path.startswith("/dev/pts/")
    assert f"\n      <source path='{path}'/>\n" in dom.xml_desc()  # in libvirt's layout
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    try:
        os.write(fd, b"echo hello-$((6*7))\n")
        seen = b""
        deadline = time.monotonic() + 5
        while b"hello-42" not in seen and time.monotonic() < deadline:
            import select

            if select.select([fd], [], [], 0.1)[0]:
                seen += os.read(fd, 4096)
        assert b"hello-42" in seen
    finally:
        os.close(fd)


def test_containers_stopping_on_their_own_are_reported(conn, rootfs, container_xml) -> None:
    events = []
    conn.domain_event_register(lambda c, d, ev, detail, o: events.append((d.name(), ev, detail)))
    dom = conn.define_xml(container_xml("ex1", rootfs, args=("-c", "sleep 0.2; exit 0")))
    dom.create()
    crash = conn.define_xml(container_xml("ex2", rootfs))
    crash.create()
    os.kill(crash.id(), signal.SIGKILL)  # init killed from the host: it crashed
    deadline = time.monotonic() + 5
    while len([e for e in events if e[1] == DomainEventType.STOPPED]) < 2:
        assert time.monotonic() < deadline, f"no stop events: {events}"
        time.sleep(0.01)
    stops = {name: detail for name, ev, detail in events if ev == DomainEventType.STOPPED}
    assert stops == {
        "ex1": DomainEventStoppedDetail.SHUTDOWN,
        "ex2": DomainEventStoppedDetail.CRASHED,
    }
    with virtkit.open(conn.get_uri()) as other:
        assert other.lookup_by_name("ex1").state() == (
            DomainState.SHUTOFF,
            DomainShutoffReason.SHUTDOWN,
        )
        assert other.lookup_by_name("ex2").state() == (
            DomainState.SHUTOFF,
            DomainShutoffReason.CRASHED,
        )
    for name in ("ex1", "ex2"):
        assert not [p for p in cgroup_folders(conn, name) if p.exists()]


def test_idmap_runs_the_container_in_a_user_namespace(conn, rootfs, container_xml) -> None:
    idmap = (
        "<idmap><uid start='0' target='200000' count='65536'/>"
        "<gid start='0' target='200000' count='65536'/></idmap>"
    )
    with pytest.raises(ConfigUnsupportedError, match="cannot reach its root filesystem"):
        conn.create_xml(container_xml("user1", rootfs, extra=idmap))  # under pytest's 0700 folder
    reachable = Path(tempfile.mkdtemp(prefix="virtkit-lxc-"))
    try:
        reachable.chmod(0o711)
        subprocess.run(["cp", "-a", str(rootfs), str(reachable / "rootfs")], check=True)
        rootfs = reachable / "rootfs"
        check_user_namespace(conn, rootfs, container_xml("user1", rootfs, extra=idmap))
    finally:
        shutil.rmtree(reachable)


def check_user_namespace(conn, rootfs: Path, xml: str) -> None:
    dom = conn.create_xml(xml)
    assert os.stat(f"/proc/{dom.id()}").st_uid == 200000, "init runs as the mapped uid on the host"
    assert os.readlink(f"/proc/{dom.id()}/ns/user") != os.readlink("/proc/self/ns/user")
    out = inside(dom, "id -u; cat /proc/self/uid_map; hostname")
    uid, mapping, hostname = out.splitlines()
    assert uid == "0" and mapping.split() == ["0", "200000", "65536"] and hostname == "user1"
    pid_ns = os.readlink(f"/proc/{dom.id()}/ns/pid")
    dom.destroy()
    assert_nothing_left(conn, "user1", pid_ns, rootfs)


def test_bind_readonly_and_ram_filesystems(conn, rootfs, container_xml, tmp_path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "note").write_text("from the host\n")
    devices = (
        f"<filesystem type='mount'><source dir='{shared}'/><target dir='/mnt/ro'/>"
        "<readonly/></filesystem>"
        f"<filesystem type='mount'><source dir='{shared}'/><target dir='/mnt/rw'/>"
        "</filesystem><filesystem type='ram'><source usage='1024' units='KiB'/>"
        "<target dir='/scratch'/></filesystem>"
    )
    dom = conn.create_xml(container_xml("fs1", rootfs, extra_devices=devices))
    assert inside(dom, "cat /mnt/ro/note") == "from the host\n"
    denied = dom.lxc_enter_namespace(["touch", "/mnt/ro/x"], capture=True)
    assert denied.returncode != 0 and b"Read-only" in denied.stderr
    inside(dom, "echo written > /mnt/rw/y")
    assert (shared / "y").read_text() == "written\n"
    assert "tmpfs /scratch tmpfs" in inside(dom, "cat /proc/mounts") and "size=1024k" in inside(
        dom, "cat /proc/mounts"
    )
    full = dom.lxc_enter_namespace(
        ["dd", "if=/dev/zero", "of=/scratch/big", "bs=4k", "count=1000"], capture=True
    )
    assert full.returncode != 0, "the ram filesystem has its size limit"


def test_a_container_whose_supervisor_died_can_still_be_destroyed(
    conn, rootfs, container_xml
) -> None:
    dom = conn.define_xml(container_xml("orphan1", rootfs))
    dom.create()
    events = []
    conn.domain_event_register(lambda c, d, ev, detail, o: events.append((ev, detail)))
    status = conn._driver._status("orphan1")
    pid_ns = os.readlink(f"/proc/{dom.id()}/ns/pid")
    os.kill(status.supervisor_pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{status.supervisor_pid}/ns") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert dom.is_active() and inside(dom, "hostname") == "orphan1\n"
    time.sleep(0.1)
    assert events == [], "the supervisor's end is not the container's"
    dom.destroy()
    assert dom.state() == (DomainState.SHUTOFF, DomainShutoffReason.DESTROYED)
    assert_nothing_left(conn, "orphan1", pid_ns, rootfs)
    time.sleep(0.1)
    assert events == [(DomainEventType.STOPPED, DomainEventStoppedDetail.DESTROYED)]
    dom.create()  # and it starts again
    assert dom.is_active()


def test_enter_namespace_with_the_callers_stdio(conn, rootfs, container_xml, tmp_path) -> None:
    dom = conn.create_xml(container_xml("io1", rootfs))
    out_file = tmp_path / "out"
    script = (
        "import sys, virtkit\n"
        f"with virtkit.open({conn.get_uri()!r}) as c:\n"
        "    d = c.lookup_by_name('io1')\n"
        "    sys.exit(d.lxc_enter_namespace(['sh', '-c', 'hostname; exit 3']))\n"
    )
    with open(out_file, "wb") as out:
        done = subprocess.run([sys.executable, "-c", script], stdout=out, timeout=60)
    assert done.returncode == 3 and out_file.read_text() == "io1\n"
    assert dom.is_active()


def test_a_start_that_hangs_is_abandoned(conn, rootfs, container_xml, monkeypatch) -> None:
    from virtkit_lxc import supervisor

    monkeypatch.setattr(supervisor, "START_TIMEOUT", 0.5)
    # the forked supervisor inherits this: it hangs where it would create the container
    monkeypatch.setattr(supervisor.Supervisor, "launch", lambda self: time.sleep(60))
    t0 = time.monotonic()
    with pytest.raises(OperationFailedError, match="did not start within 0.5 s"):
        conn.create_xml(container_xml("hang1", rootfs))
    assert time.monotonic() - t0 < 10
    assert not [p for p in cgroup_folders(conn, "hang1") if p.exists()]
    assert conn.list_all_domains() == []
    for entry in os.listdir("/proc"):  # the killed supervisor is gone
        with contextlib.suppress(OSError), open(f"/proc/{entry}/cmdline", "rb") as fh:
            assert b"hang1" not in fh.read()
