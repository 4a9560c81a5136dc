"""``autostart-all``: every inactive autostart domain is started; failures are named, exit 1,
and do not keep the others down."""

from __future__ import annotations

from collections.abc import Callable

import virtkit
from click.testing import CliRunner, Result
from virtkit.cli.app import cli
from virtkit.cli.session import Session
from virtkit.constants import DomainState, HookEvent
from virtkit.errors import HookVetoError

Run = Callable[..., Result]

XML = "<domain type='test'><name>{}</name><memory>1024</memory></domain>"


class RefuseToStart:
    """An extension vetoing the start of the domains named ``broken*``."""

    @virtkit.hookimpl
    def virtkit_domain_hook(self, event, name, document):  # type: ignore[no-untyped-def]
        if event == HookEvent.PREPARE and name.startswith("broken"):
            raise HookVetoError(f"{name} has no resources")


def define(conn: virtkit.Connection, name: str, autostart: bool) -> virtkit.Domain:
    dom = conn.define_xml(XML.format(name))
    dom.set_autostart(autostart)
    return dom


def state(conn: virtkit.Connection, name: str) -> DomainState:
    return DomainState(conn.lookup_by_name(name).state()[0])


def test_starts_inactive_autostart_domains_only(run: Run, conn: virtkit.Connection) -> None:
    for name, autostart in (("web", True), ("db", True), ("spare", False)):
        define(conn, name, autostart)
    conn.lookup_by_name("test").set_autostart(True)  # already running: left alone
    result = run("autostart-all")
    assert result.exit_code == 0, result.stderr
    assert sorted(result.stdout.splitlines()) == ["Domain 'db' started", "Domain 'web' started"]
    assert result.stderr == ""
    assert [state(conn, n) for n in ("web", "db", "spare", "test")] == [
        DomainState.RUNNING,
        DomainState.RUNNING,
        DomainState.SHUTOFF,
        DomainState.RUNNING,
    ]
    again = run("autostart-all")  # nothing left to start
    assert (again.exit_code, again.stdout, again.stderr) == (0, "", "")


def test_failures_are_named_with_exit_1_and_the_others_still_start(node_uri: str) -> None:
    with virtkit.open(node_uri, extensions=[RefuseToStart()]) as conn:
        for name in ("broken1", "good", "broken2"):
            define(conn, name, True)
        result = CliRunner().invoke(
            cli, ["autostart-all"], obj=Session(connection=conn), prog_name="virtkit"
        )
        assert result.exit_code == 1
        assert result.stdout == "Domain 'good' started\n"
        errors = result.stderr.splitlines()
        for name in ("broken1", "broken2"):
            assert f"error: Failed to start domain '{name}'" in errors
            assert any(f"{name} has no resources" in line for line in errors)
        summary = errors[-1].removeprefix("error: 2 autostart domain(s) did not start: ")
        assert sorted(summary.split(", ")) == ["'broken1'", "'broken2'"]
        assert state(conn, "good") == DomainState.RUNNING
        assert state(conn, "broken1") == state(conn, "broken2") == DomainState.SHUTOFF
