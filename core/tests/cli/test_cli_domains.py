"""Listing and inspecting domains: ``list``, ``dominfo``, ``domstate``, ``domid``, ``domuuid``,
``domname``, ``dumpxml``, and how a DOMAIN argument is resolved."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import virtkit
from click.testing import Result

Run = Callable[..., Result]

TEST_UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"


def define_demo(run: Run, demo_file: Path) -> None:
    assert run("define", str(demo_file)).exit_code == 0


def test_list_shows_running_domains_like_virsh(run: Run) -> None:
    result = run("list")
    assert result.exit_code == 0
    assert result.stdout == (" Id   Name   State\n----------------------\n 1    test   running\n\n")


def test_list_all_adds_inactive_domains_after_active_ones(run: Run, demo_file: Path) -> None:
    define_demo(run, demo_file)
    assert run("list").stdout.count("\n") == 4  # the inactive domain is not listed
    assert run("list", "--all").stdout == (
        " Id   Name   State\n"
        "-----------------------\n"
        " 1    test   running\n"
        " -    demo   shut off\n"
        "\n"
    )
    assert run("list", "--inactive", "--name").stdout == "demo\n\n"


def test_list_name_uuid_and_title(run: Run, demo_file: Path) -> None:
    define_demo(run, demo_file)
    assert run("list", "--all", "--name").stdout == "test\ndemo\n\n"
    assert run("list", "--uuid").stdout == f"{TEST_UUID}\n\n"
    assert run("list", "--uuid", "--name").stdout == f"{TEST_UUID} test\n\n"
    titled = run("list", "--all", "--title").stdout.splitlines()
    assert titled[0] == " Id   Name   State      Title"
    assert titled[2] == " 1    test   running    The test domain"
    assert titled[3] == " -    demo   shut off   "


def test_list_state_filters_imply_all_domains(run: Run, demo_file: Path) -> None:
    define_demo(run, demo_file)
    assert run("list", "--state-shutoff", "--name").stdout == "demo\n\n"
    assert run("list", "--state-running", "--state-shutoff", "--name").stdout == "test\ndemo\n\n"
    assert run("list", "--state-paused", "--name").stdout == "\n"
    # other filters narrow the default (active) listing, as in virsh
    assert run("list", "--persistent", "--name").stdout == "test\n\n"
    assert run("list", "--all", "--persistent", "--name").stdout == "test\ndemo\n\n"


def test_list_autostart_snapshot_and_managed_save_filters(run: Run, demo_file: Path) -> None:
    define_demo(run, demo_file)
    run("autostart", "demo")
    assert run("list", "--all", "--autostart", "--name").stdout == "demo\n\n"
    assert run("list", "--all", "--no-autostart", "--name").stdout == "test\n\n"
    run("snapshot-create-as", "test", "s1")
    assert run("list", "--with-snapshot", "--name").stdout == "test\n\n"
    assert run("list", "--all", "--without-snapshot", "--name").stdout == "demo\n\n"
    run("managedsave", "test")
    assert run("list", "--all", "--with-managed-save", "--name").stdout == "test\n\n"
    assert run("list", "--all", "--without-managed-save", "--name").stdout == "demo\n\n"
    assert " -    test   saved\n" in run("list", "--all", "--managed-save").stdout
    assert " -    test   shut off\n" in run("list", "--all").stdout


def test_list_title_with_name_is_a_usage_error(run: Run) -> None:
    result = run("list", "--title", "--name")
    assert result.exit_code == 2
    assert "--title cannot be combined" in result.stderr


def test_dominfo(run: Run) -> None:
    result = run("dominfo", "test")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[:6] == [
        "Id:             1",
        "Name:           test",
        f"UUID:           {TEST_UUID}",
        "OS Type:        hvm",
        "State:          running",
        "CPU(s):         2",
    ]
    assert "Max memory:     8388608 KiB" in lines
    assert "Used memory:    2097152 KiB" in lines
    assert lines[-4:] == [
        "Persistent:     yes",
        "Autostart:      disable",
        "Managed save:   no",
        "",
    ]


def test_dominfo_of_inactive_domain(run: Run, demo_file: Path) -> None:
    define_demo(run, demo_file)
    lines = run("dominfo", "demo").stdout.splitlines()
    assert lines[0] == "Id:             -"
    assert "State:          shut off" in lines
    assert "Max memory:     131072 KiB" in lines


def test_domstate_with_reason(run: Run) -> None:
    assert run("domstate", "test").stdout == "running\n\n"
    assert run("domstate", "--reason", "test").stdout == "running (booted)\n\n"
    run("suspend", "test")
    assert run("domstate", "--reason", "test").stdout == "paused (user)\n\n"
    run("destroy", "test")
    assert run("domstate", "--reason", "test").stdout == "shut off (destroyed)\n\n"


def test_identity_commands(run: Run, demo_file: Path) -> None:
    assert run("domid", "test").stdout == "1\n\n"
    assert run("domuuid", "test").stdout == f"{TEST_UUID}\n\n"
    assert run("domname", "1").stdout == "test\n\n"
    assert run("domname", TEST_UUID).stdout == "test\n\n"
    define_demo(run, demo_file)
    assert run("domid", "demo").stdout == "-\n\n"


def test_domain_found_by_id_then_uuid_then_name(run: Run, conn: virtkit.Connection) -> None:
    # a domain named "1" does not hide the domain whose id is 1, as in virsh
    conn.define_xml("<domain type='test'><name>1</name><memory>1024</memory></domain>")
    assert run("domname", "1").stdout == "test\n\n"
    assert run("domuuid", "test").stdout == f"{TEST_UUID}\n\n"
    assert run("domstate", "1").stdout == "running\n\n"  # the id wins
    # an id nobody has falls back to the name
    conn.define_xml("<domain type='test'><name>7</name><memory>1024</memory></domain>")
    assert run("domstate", "7").stdout == "shut off\n\n"


def test_unknown_domain_says_what_failed_and_why(run: Run) -> None:
    result = run("dominfo", "nosuch")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "error: failed to get domain 'nosuch'\n"
        "error: domain not found: no domain with matching name 'nosuch'\n"
    )


def test_missing_domain_argument_is_a_usage_error(run: Run) -> None:
    result = run("dominfo")
    assert result.exit_code == 2
    assert "Missing argument 'DOMAIN'" in result.stderr


def test_dumpxml_prints_the_document_then_a_blank_line(run: Run) -> None:
    text = run("dumpxml", "test").stdout
    assert text.startswith("<domain")
    assert text.endswith("</domain>\n\n")
    assert "<name>test</name>" in text
    inactive = run("dumpxml", "--inactive", "--security-info", "--migratable", "test")
    assert inactive.exit_code == 0
    assert "<name>test</name>" in inactive.stdout


def test_domrename(run: Run, demo_file: Path) -> None:
    define_demo(run, demo_file)
    uuid = run("domuuid", "demo").stdout
    assert run("domrename", "demo", "renamed").stdout == "Domain successfully renamed\n\n"
    assert run("domuuid", "renamed").stdout == uuid
    assert run("list", "--all", "--name").stdout.split() == ["test", "renamed"]
    result = run("domrename", "test", "other")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: Failed to rename domain 'test'\n"
        "error: Requested operation is not valid: cannot rename active domain\n"
    )
    result = run("domrename", "renamed", "test")
    assert result.exit_code == 1 and "domain with name 'test' already exists" in result.stderr
