"""Host and plugin commands, native formats and the console."""

from __future__ import annotations

import os
import select
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import virtkit
from click.testing import CliRunner, Result
from virtkit.cli.app import cli
from virtkit.cli.commands.console import ESCAPE, open_endpoint, pump
from virtkit.cli.session import Session
from virtkit.domain import Domain
from virtkit.inventory import installed_plugins, operation_hooks
from virtkit.plugins import implemented_hooks

Run = Callable[..., Result]


def test_capabilities_hostname_uri(run: Run, node_uri: str) -> None:
    caps = run("capabilities").stdout
    assert caps.startswith("<capabilities") and caps.endswith("</capabilities>\n\n")
    assert run("hostname").stdout == f"{socket.gethostname()}\n\n"
    assert run("uri").stdout == f"{node_uri}\n\n"


def test_version(run: Run) -> None:
    assert run("version").stdout == (
        f"Compiled against library: virtkit {virtkit.__version__}\n"
        f"Using library: virtkit {virtkit.__version__}\n"
        f"Using API: Test {virtkit.__version__}\n"
        "Running hypervisor: Test 0.0.2\n\n"
    )


def test_uri_of_the_default_connection(monkeypatch: object) -> None:
    env = {"VIRTKIT_DEFAULT_URI": "test:///default"}
    assert CliRunner().invoke(cli, ["uri"], env=env).stdout == "test:///default\n\n"


def test_unknown_scheme_names_the_distribution_to_install() -> None:
    result = CliRunner().invoke(cli, ["-c", "nosuch:///system", "list"])
    assert result.exit_code == 1
    assert result.stderr == (
        "error: failed to connect to the hypervisor\n"
        "error: no virtkit driver is installed for URI scheme 'nosuch': install the "
        "distribution that provides it (pip install virtkit-nosuch)\n"
    )


def test_operations_a_driver_lacks_name_the_driver(run: Run, demo_file: Path) -> None:
    from virtkit.drivers.test.driver import TestDriver

    assert "virtkit_domain_xml_to_native" not in implemented_hooks(TestDriver)
    result = run("domxml-to-native", "qemu-argv", str(demo_file))
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: Failed to convert {demo_file} to qemu-argv\n"
        "error: this function is not supported by the connection driver: the Test driver "
        "does not implement domain_xml_to_native\n"
    )
    result = run("domxml-from-native", "xen-xl", str(demo_file))
    assert "does not implement domain_xml_from_native" in result.stderr


def test_plugins_table_lists_the_test_driver() -> None:
    from virtkit.drivers.test.driver import TestDriver

    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["Name", "Kind", "Distribution", "Version", "Operations"]
    hooks = implemented_hooks(TestDriver)
    row = next(line.split() for line in lines[2:] if line.split()[:2] == ["test", "driver"])
    assert row == [
        "test",
        "driver",
        "virtkit",
        virtkit.__version__,
        f"{len(hooks)}/{len(operation_hooks())}",
    ]
    operations = result.stdout.split("\ntest: ", 1)[1].split("\n\n", 1)[0]
    assert {op.strip() for op in operations.split(",")} == {
        h.removeprefix("virtkit_") for h in hooks
    }


def test_plugins_matrix_marks_what_each_driver_implements() -> None:
    result = CliRunner().invoke(cli, ["plugins", "--matrix"])
    lines = result.stdout.splitlines()
    drivers = [p for p in installed_plugins() if p.kind == "driver"]
    assert lines[0] == "| Operation | " + " | ".join(f"`{d.name}`" for d in drivers) + " |"
    assert lines[1] == "|---|" + "---|" * len(drivers)
    column = [d.name for d in drivers].index("test")
    for hook, line in zip(operation_hooks(), lines[2:], strict=True):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[0] == f"`{hook.removeprefix('virtkit_')}`"
        assert cells[1 + column] == ("yes" if hook in drivers[column].hooks else "-")


def test_console_not_offered_by_the_test_driver(run: Run) -> None:
    result = run("console", "test")
    assert result.exit_code == 1
    assert "the Test driver does not implement domain_open_console" in result.stderr


def read_within(fd: int, seconds: float = 5) -> bytes:
    """What ``fd`` has to read, failing (not hanging) when nothing comes in time."""
    ready, _, _ = select.select([fd], [], [], seconds)
    assert ready, f"nothing to read within {seconds} s"
    return os.read(fd, 100)


def test_console_pump_over_a_pseudo_terminal() -> None:
    guest, console_side = os.openpty()
    user_in_r, user_in_w = os.pipe()
    user_out_r, user_out_w = os.pipe()
    try:
        with open_endpoint(os.ttyname(console_side)) as console:
            worker = threading.Thread(target=pump, args=(console, user_in_r, user_out_w))
            worker.start()
            os.write(guest, b"login: ")
            assert read_within(user_out_r) == b"login: "
            os.write(user_in_w, b"root\r")
            assert read_within(guest) == b"root\r"  # raw mode: no echo, no translation
            os.write(user_in_w, b"x" + ESCAPE + b"ignored")
            worker.join(5)
            assert not worker.is_alive(), "the escape character did not end the session"
        assert read_within(guest) == b"x"
    finally:
        for fd in (guest, console_side, user_in_r, user_in_w, user_out_r, user_out_w):
            os.close(fd)


def test_console_pump_over_a_unix_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "console.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    user_in_r, user_in_w = os.pipe()
    user_out_r, user_out_w = os.pipe()
    try:
        with open_endpoint(path) as console:
            guest, _ = server.accept()
            guest.sendall(b"hello from the guest\n")
            guest.close()  # the console closes: the session ends
            pump(console, user_in_r, user_out_w)
        assert read_within(user_out_r) == b"hello from the guest\n"
    finally:
        server.close()
        for fd in (user_in_r, user_in_w, user_out_r, user_out_w):
            os.close(fd)


def test_console_endpoint_that_does_not_exist(tmp_path: Path) -> None:
    import pytest
    from virtkit.cli.session import CommandFailed

    with (
        pytest.raises(CommandFailed, match="cannot open console"),
        open_endpoint(str(tmp_path / "none")),
    ):
        pass


def test_console_command_attaches_and_detaches(
    conn: virtkit.Connection, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # the test driver has no console: stand in for a driver's answer with a real terminal
    guest, console_side = os.openpty()
    monkeypatch.setattr(
        Domain, "open_console", lambda self, dev_name=None: os.ttyname(console_side)
    )
    user_in_r, user_in_w = os.pipe()
    out_path = tmp_path / "out"
    os.write(user_in_w, b"ls\r" + ESCAPE)
    try:
        with os.fdopen(user_in_r, "rb", buffering=0) as stdin, open(out_path, "w") as stdout:
            monkeypatch.setattr(sys, "stdin", stdin)
            monkeypatch.setattr(sys, "stdout", stdout)
            cli.main(["console", "test"], obj=Session(connection=conn), standalone_mode=False)
        assert read_within(guest) == b"ls\r"
        assert out_path.read_text() == (
            "Connected to domain 'test'\nEscape character is ^] (Ctrl + ])\n\n"
        )
    finally:
        for fd in (guest, console_side, user_in_w):
            os.close(fd)
