"""The installed ``virtkit`` console script, run as a user runs it: exit codes, streams, and
that a command imports only what it needs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).parent / "virtkit"


def virtkit_cmd(*args: str) -> subprocess.CompletedProcess[str]:
    if not SCRIPT.exists():
        pytest.fail(f"the virtkit console script is missing at {SCRIPT}: pip install -e ./core")
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


def test_list_all_on_the_default_test_node() -> None:
    result = virtkit_cmd("-c", "test:///default", "list", "--all")
    assert result.returncode == 0
    assert result.stderr == ""
    assert result.stdout == (" Id   Name   State\n----------------------\n 1    test   running\n\n")


def test_default_uri_from_the_environment() -> None:
    result = subprocess.run(
        [str(SCRIPT), "uri"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"VIRTKIT_DEFAULT_URI": "test:///default", "PATH": "/usr/bin:/bin"},
    )
    assert (result.returncode, result.stdout) == (0, "test:///default\n\n")


def test_malformed_xml_fails_with_the_line_and_status_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text(
        "<domain type='test'>\n  <name>x</name>\n  <memory>1024</memory>\n  <vcpu>\n</domain>\n"
    )
    result = virtkit_cmd("-c", "test:///default", "define", str(bad))
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == f"error: Failed to define domain from {bad}"
    assert "line 5" in lines[1]


def test_bad_arguments_exit_2_with_usage() -> None:
    result = virtkit_cmd("-c", "test:///default", "list", "--bogus")
    assert result.returncode == 2
    assert "No such option '--bogus'" in result.stderr
    result = virtkit_cmd("no-such-command")
    assert result.returncode == 2
    assert "No such command 'no-such-command'" in result.stderr


def test_runtime_error_exits_1_on_stderr() -> None:
    result = virtkit_cmd("-c", "test:///default", "start", "test")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: Failed to start domain 'test'\nerror: ")


def test_python_dash_m_runs_the_same_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "virtkit.cli", "-c", "test:///default", "domstate", "test"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (0, "running\n\n")


def list_then_print(expression: str) -> list[str]:
    """Run ``virtkit -c test:///default list --all`` in a fresh interpreter, then print
    ``expression`` (Python, over ``sys.modules``); the output's lines."""
    probe = (
        "import sys\n"
        "from virtkit.cli import main\n"
        "try:\n"
        "    main(['-c', 'test:///default', 'list', '--all'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print({expression})\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_a_command_imports_only_its_own_module() -> None:
    lines = list_then_print(
        "sorted(m for m in sys.modules if m.startswith('virtkit.cli.commands.'))"
    )
    assert lines[-1] == "['virtkit.cli.commands.domain_list']"


NOT_FOR_LISTING = (
    "attr",
    "attrs",
    "lxml",
    "queue",
    "virtkit.auth",
    "virtkit.hooks",
    "virtkit.inventory",
    "virtkit.migration",
    "virtkit.snapshot",
    "virtkit.state",
    "virtkit.xml",
)
"""What ``virtkit list`` on the test node has no use for: importing it would slow every
start (the cold-start benchmark compares ``list --all`` with virsh's)."""


def test_list_imports_nothing_it_does_not_use() -> None:
    lines = list_then_print(
        f"sorted(m for m in sys.modules if any(m == u or m.startswith(u + '.') "
        f"for u in {NOT_FOR_LISTING!r}))"
    )
    assert any(" test   running" in line for line in lines)
    assert lines[-1] == "[]", "imported on the list path"


def run_with_terminal_stderr(*args: str) -> tuple[int, str]:
    """Run the script with stderr on a pseudo-terminal; return its status and what it drew."""
    import os
    import select

    controller, terminal = os.openpty()
    try:
        process = subprocess.Popen([str(SCRIPT), *args], stdout=subprocess.DEVNULL, stderr=terminal)
        os.close(terminal)
        drawn = b""
        while True:
            ready, _, _ = select.select([controller], [], [], 30)
            if not ready:
                break
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the script exited and closed the terminal
                break
            if not chunk:
                break
            drawn += chunk
        return process.wait(timeout=30), drawn.decode()
    finally:
        os.close(controller)


def test_save_draws_a_progress_bar_on_a_terminal_only(tmp_path: Path) -> None:
    # test:///default starts afresh in each process: save its running domain twice
    status, drawn = run_with_terminal_stderr(
        "-c", "test:///default", "save", "test", str(tmp_path / "tty.save")
    )
    assert status == 0
    assert "Save: [" in drawn and "] 100 %" in drawn
    piped = virtkit_cmd("-c", "test:///default", "save", "test", str(tmp_path / "pipe.save"))
    assert piped.returncode == 0
    assert piped.stderr == ""
