"""Long jobs and events: ``migrate``, ``domjobinfo``, ``domjobabort`` and ``event``."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import virtkit
from click.testing import CliRunner, Result
from virtkit.cli.app import cli
from virtkit.cli.commands.migrate import run_with_deadline
from virtkit.cli.session import Session
from virtkit.constants import DomainState

Run = Callable[..., Result]


def test_domjobinfo_without_and_after_a_job(run: Run, tmp_path: Path) -> None:
    assert run("domjobinfo", "test").stdout == "Job type:         None        \n\n"
    run("save", "test", str(tmp_path / "img"))
    run("restore", str(tmp_path / "img"))
    lines = run("domjobinfo", "test", "--completed").stdout.splitlines()
    assert lines[0] == "Job type:         Completed   "
    assert re.fullmatch(r"Time elapsed:     \d+ +ms", lines[2])
    assert any(re.fullmatch(r"Data processed:   \d+\.\d{3} (B|KiB|MiB)", line) for line in lines)


def test_domjobabort_without_a_job_fails(run: Run) -> None:
    result = run("domjobabort", "test")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == "error: Failed to abort the job of domain 'test'"


def test_migrate_to_another_connection(tmp_path: Path) -> None:
    name = f"mig-{uuid.uuid4().hex[:8]}"
    node = tmp_path / "source.xml"
    node.write_text(
        f"<node><domain type='test'><name>{name}</name><memory>65536</memory>"
        "<os><type>hvm</type></os></domain></node>"
    )
    with virtkit.open(f"test://{node}") as source, virtkit.open("test:///default") as dest:
        result = CliRunner().invoke(
            cli,
            ["migrate", "--live", "--persistent", "--verbose", name, "test:///default"],
            obj=Session(connection=source),
        )
        assert result.exit_code == 0, result.stderr
        assert source.lookup_by_name(name).state()[0] == DomainState.SHUTOFF
        moved = dest.lookup_by_name(name)
        try:
            assert moved.state()[0] == DomainState.RUNNING
            assert moved.is_persistent()
        finally:
            moved.destroy()
            moved.undefine()


def test_migrate_to_a_bad_uri_leaves_the_domain_running(run: Run, conn: virtkit.Connection) -> None:
    result = run("migrate", "test", "nosuchdriver:///system")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: failed to connect to the migration destination",
        "error: no virtkit driver is installed for URI scheme 'nosuchdriver': install the "
        "distribution that provides it (pip install virtkit-nosuchdriver)",
    ]
    assert conn.lookup_by_name("test").state()[0] == DomainState.RUNNING


def test_migrate_option_errors(run: Run) -> None:
    result = run("migrate", "--timeout", "3", "test", "test:///default")
    assert result.exit_code == 2
    assert "--timeout requires --live" in result.stderr
    assert run("migrate", "test").exit_code == 2


def test_run_with_deadline_acts_once_when_the_job_is_late() -> None:
    late: list[float] = []
    started = time.monotonic()
    value = run_with_deadline(
        lambda: time.sleep(0.4) or "done",
        0.1,
        on_timeout=lambda: late.append(time.monotonic() - started),
        on_interrupt=lambda: pytest.fail("not interrupted"),
    )
    assert value == "done"
    assert len(late) == 1 and 0.1 <= late[0] < 0.4


def test_run_with_deadline_hands_back_the_job_error() -> None:
    def job() -> None:
        raise virtkit.VirtError("boom")

    with pytest.raises(virtkit.VirtError, match="boom"):
        run_with_deadline(job, None, on_timeout=lambda: None, on_interrupt=lambda: None)


def after(delay: float, *calls: Callable[[], object]) -> threading.Thread:
    def fire() -> None:
        time.sleep(delay)
        for call in calls:
            call()

    thread = threading.Thread(target=fire)
    thread.start()
    return thread


def test_event_prints_one_lifecycle_event(run: Run, conn: virtkit.Connection) -> None:
    thread = after(0.5, conn.lookup_by_name("test").destroy)
    result = run("event", "--domain", "test", "--event", "lifecycle")
    thread.join()
    assert result.exit_code == 0
    assert result.stdout == (
        "event 'lifecycle' for domain 'test': Stopped Destroyed\nevents received: 1\n"
    )


def test_event_loop_until_timeout(run: Run, conn: virtkit.Connection) -> None:
    dom = conn.lookup_by_name("test")
    thread = after(0.3, dom.suspend, dom.resume)
    result = run("event", "--all", "--loop", "--timeout", "1", "--timestamp")
    thread.join()
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\+0000: "
    assert re.fullmatch(stamp + "event 'lifecycle' for domain 'test': Suspended Paused", lines[0])
    assert re.fullmatch(stamp + "event 'lifecycle' for domain 'test': Resumed Unpaused", lines[1])
    assert lines[2:] == ["event loop timed out", "events received: 2"]


def test_event_timeout_without_events_fails(run: Run) -> None:
    result = run("event", "--all", "--timeout", "1")
    assert result.exit_code == 1
    assert result.stdout == "event loop timed out\nevents received: 0\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "one of --list, --all, or --event <type> is required"),
        (["--all", "--event", "lifecycle"], "Options --all and --event are mutually exclusive"),
        (["--event", "reboot"], "unknown event type reboot: virtkit delivers lifecycle events"),
    ],
)
def test_event_argument_errors(run: Run, args: list[str], message: str) -> None:
    result = run("event", *args)
    assert result.exit_code == 1
    assert result.stderr == f"error: {message}\n"


def test_event_list(run: Run) -> None:
    assert run("event", "--list").stdout == "lifecycle\n"
