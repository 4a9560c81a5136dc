"""Defining, starting and stopping domains, saving them, and the errors on the way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import virtkit
from click.testing import Result
from virtkit.constants import DomainState

Run = Callable[..., Result]


def state(conn: virtkit.Connection, name: str) -> DomainState:
    return conn.lookup_by_name(name).state()[0]


def test_define_then_undefine(run: Run, conn: virtkit.Connection, demo_file: Path) -> None:
    result = run("define", str(demo_file))
    assert result.exit_code == 0
    assert result.stdout == f"Domain 'demo' defined from {demo_file}\n\n"
    assert state(conn, "demo") == DomainState.SHUTOFF
    result = run("undefine", "demo")
    assert result.stdout == "Domain 'demo' has been undefined\n\n"
    assert [d.name() for d in conn.list_all_domains()] == ["test"]


def test_define_with_validate(
    run: Run, conn: virtkit.Connection, demo_file: Path, tmp_path: Path
) -> None:
    """``--validate`` checks the file against libvirt's RelaxNG schema first: an element the
    schema does not know is refused (without it, the faithful parser keeps it)."""
    unknown = tmp_path / "unknown.xml"
    xml = demo_file.read_text().replace("<vcpu>", "<futureboot/><vcpu>")
    unknown.write_text(xml.replace("<name>demo</name>", "<name>future</name>"))
    result = run("define", "--validate", str(unknown))
    assert result.exit_code == 1
    assert "does not validate against domain.rng" in result.stderr
    assert [d.name() for d in conn.list_all_domains()] == ["test"]
    assert run("define", "--validate", str(demo_file)).exit_code == 0
    assert conn.lookup_by_name("demo").is_persistent()
    kept = run("define", str(unknown))
    assert kept.exit_code == 0, kept.stderr
    refused = run("create", "--validate", str(unknown))
    assert refused.exit_code == 1 and "does not validate against domain.rng" in refused.stderr


def test_start_from_managed_save_or_force_boot(run: Run, conn: virtkit.Connection) -> None:
    run("managedsave", "test")
    assert run("start", "test").stdout == "Domain 'test' started\n\n"
    assert run("domstate", "--reason", "test").stdout == "running (restored)\n\n"
    run("managedsave", "test")
    assert run("start", "--force-boot", "test").exit_code == 0
    assert run("domstate", "--reason", "test").stdout == "running (booted)\n\n"
    assert not conn.lookup_by_name("test").has_managed_save_image()


def test_malformed_xml_names_the_line_and_defines_nothing(
    run: Run, conn: virtkit.Connection, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text("<domain type='test'>\n  <name>bad</name>\n  <memory>1024\n</domain>\n")
    result = run("define", str(bad))
    assert result.exit_code == 1
    assert result.stdout == ""
    first, second = result.stderr.splitlines()
    assert first == f"error: Failed to define domain from {bad}"
    assert second.startswith("error: ") and "line 4" in second
    assert [d.name() for d in conn.list_all_domains()] == ["test"]


def test_define_of_missing_file(run: Run, tmp_path: Path) -> None:
    result = run("define", str(tmp_path / "nothere.xml"))
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: Failed to open file '{tmp_path / 'nothere.xml'}': No such file or directory\n"
    )


def test_create_starts_a_transient_domain(
    run: Run, conn: virtkit.Connection, demo_file: Path
) -> None:
    result = run("create", str(demo_file), "--paused")
    assert result.stdout == f"Domain 'demo' created from {demo_file}\n\n"
    dom = conn.lookup_by_name("demo")
    assert dom.state()[0] == DomainState.PAUSED
    assert not dom.is_persistent()
    run("destroy", "demo")
    assert [d.name() for d in conn.list_all_domains()] == ["test"]


def test_create_autodestroy_ends_with_the_cli_connection(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from virtkit.cli.app import cli

    xml = tmp_path / "gone.xml"
    xml.write_text("<domain type='test'><name>cli-autodestroy</name><memory>1024</memory></domain>")
    # test:///default is one node shared by the connections of this process
    with virtkit.open("test:///default") as watcher:
        result = CliRunner().invoke(
            cli, ["-c", "test:///default", "create", str(xml), "--autodestroy"]
        )
        assert result.stdout == f"Domain 'cli-autodestroy' created from {xml}\n\n"
        assert "cli-autodestroy" not in [d.name() for d in watcher.list_all_domains()]


@pytest.mark.parametrize(
    ("command", "message", "after"),
    [
        ("destroy", "Domain 'test' destroyed", DomainState.SHUTOFF),
        ("suspend", "Domain 'test' suspended", DomainState.PAUSED),
        ("reboot", "Domain 'test' is being rebooted", DomainState.RUNNING),
        ("reset", "Domain 'test' was reset", DomainState.RUNNING),
        ("shutdown", "Domain 'test' is being shutdown", DomainState.SHUTOFF),
    ],
)
def test_state_changes(
    run: Run, conn: virtkit.Connection, command: str, message: str, after: DomainState
) -> None:
    result = run(command, "test")
    assert result.exit_code == 0
    assert result.stdout == message + "\n\n"
    assert state(conn, "test") == after


def test_start_resume_and_their_errors(run: Run, conn: virtkit.Connection) -> None:
    result = run("start", "test")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == "error: Failed to start domain 'test'"
    result = run("resume", "test")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == "error: Failed to resume domain 'test'"
    run("suspend", "test")
    assert run("resume", "test").stdout == "Domain 'test' resumed\n\n"
    run("destroy", "test")
    assert run("start", "test", "--paused").stdout == "Domain 'test' started\n\n"
    assert state(conn, "test") == DomainState.PAUSED


def test_shutdown_with_timeout_returns_once_off(run: Run, conn: virtkit.Connection) -> None:
    result = run("shutdown", "test", "--timeout", "5")
    assert result.exit_code == 0
    assert result.stdout == "Domain 'test' is shut off\n\n"
    assert state(conn, "test") == DomainState.SHUTOFF


def test_negative_timeout_is_refused_before_anything_happens(
    run: Run, conn: virtkit.Connection
) -> None:
    result = run("shutdown", "test", "--timeout", "-1")
    assert result.exit_code == 2
    assert "--timeout" in result.stderr
    assert state(conn, "test") == DomainState.RUNNING


def test_autostart(run: Run, conn: virtkit.Connection) -> None:
    assert run("autostart", "test").stdout == "Domain 'test' marked as autostarted\n\n"
    assert conn.lookup_by_name("test").autostart()
    assert run("autostart", "--disable", "test").stdout == (
        "Domain 'test' unmarked as autostarted\n\n"
    )
    assert not conn.lookup_by_name("test").autostart()


def test_shutdown_and_reboot_modes_and_graceful_destroy(run: Run, conn: virtkit.Connection) -> None:
    """``--mode`` reaches the driver, which refuses a mode it cannot honour (the test driver
    has none); an unknown mode is a usage error; ``destroy --graceful``."""
    refused = run("shutdown", "--mode", "agent", "test")
    assert refused.exit_code == 1
    assert refused.stderr == (
        "error: Failed to shutdown domain 'test'\n"
        "error: the test driver does not support shutdown with flag GUEST_AGENT\n"
    )
    assert state(conn, "test") == DomainState.RUNNING
    unknown = run("reboot", "--mode", "acpi,telepathy", "test")
    assert unknown.exit_code == 2 and "Unknown mode telepathy value" in unknown.stderr
    assert run("reboot", "--mode", "acpi,agent", "test").exit_code == 0
    assert run("destroy", "--graceful", "test").stdout == "Domain 'test' destroyed\n\n"
    assert state(conn, "test") == DomainState.SHUTOFF


def test_save_and_restore(run: Run, conn: virtkit.Connection, tmp_path: Path) -> None:
    image = tmp_path / "test.save"
    result = run("save", "test", str(image))
    assert result.exit_code == 0
    assert result.stdout == f"\nDomain 'test' saved to {image}\n\n"
    assert image.exists()
    assert conn.lookup_by_name("test").state() == (DomainState.SHUTOFF, 5)  # reason: saved
    result = run("restore", str(image))
    assert result.stdout == f"Domain restored from {image}\n\n"
    assert state(conn, "test") == DomainState.RUNNING


def test_save_and_restore_choose_the_state_and_the_xml(
    run: Run, conn: virtkit.Connection, tmp_path: Path
) -> None:
    """``--paused``/``--running`` at save say how the image resumes, at restore they
    override it; ``--xml`` gives the domain XML to resume with."""
    first, second = tmp_path / "first.save", tmp_path / "second.save"
    assert run("save", "test", str(first), "--paused", "--verbose").exit_code == 0
    assert run("restore", str(first)).exit_code == 0
    assert state(conn, "test") == DomainState.PAUSED
    assert run("save", "test", str(second), "--running").exit_code == 0
    retitled = tmp_path / "retitled.xml"
    xml = conn.lookup_by_name("test").xml_desc(inactive=True)
    retitled.write_text(xml.replace("The test domain", "Restored with another XML"))
    assert run("restore", str(second), "--xml", str(retitled)).exit_code == 0
    assert state(conn, "test") == DomainState.RUNNING
    assert "Restored with another XML" in conn.lookup_by_name("test").xml_desc()
    assert run("managedsave", "test", "--paused").exit_code == 0
    assert run("start", "test").exit_code == 0
    assert state(conn, "test") == DomainState.PAUSED
    both = run("save", "test", str(first), "--running", "--paused")
    assert both.exit_code == 2 and "--running and --paused are mutually exclusive" in both.stderr


def test_restore_of_missing_image(run: Run, tmp_path: Path) -> None:
    result = run("restore", str(tmp_path / "none.save"))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"error: Failed to restore domain from {tmp_path / 'none.save'}"
    )


def test_managed_save_cycle(run: Run, conn: virtkit.Connection) -> None:
    assert run("managedsave", "test").stdout == "\nDomain 'test' state saved by virtkit\n\n"
    assert conn.lookup_by_name("test").has_managed_save_image()
    # undefine refuses while the image exists, and says which option removes it
    refused = run("undefine", "test")
    assert refused.exit_code == 1
    assert "--managed-save" in refused.stderr
    assert run("managedsave-remove", "test").stdout == (
        "Removed managedsave image for domain 'test'\n"
    )
    assert run("managedsave-remove", "test").stdout == (
        "Domain 'test' has no manage save image; removal skipped\n"
    )


def test_undefine_with_managed_save(run: Run, conn: virtkit.Connection) -> None:
    run("managedsave", "test")
    assert run("undefine", "--managed-save", "test").exit_code == 0
    assert conn.list_all_domains() == []


def test_read_only_connection_refuses_changes(node_uri: str) -> None:
    from click.testing import CliRunner
    from virtkit.cli.app import cli

    result = CliRunner().invoke(cli, ["-r", "-c", node_uri, "destroy", "test"])
    assert result.exit_code == 1
    assert result.stderr == (
        "error: Failed to destroy domain 'test'\n"
        "error: operation forbidden: read only access prevents domain_destroy\n"
    )
    listed = CliRunner().invoke(cli, ["-r", "-c", node_uri, "list", "--name"])
    assert listed.stdout == "test\n\n"
