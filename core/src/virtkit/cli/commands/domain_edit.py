"""``edit``: change a domain's definition in an editor, as ``virsh edit`` does."""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable

import click

from virtkit.cli.commands.domain_info import domain_argument
from virtkit.cli.session import CommandFailed, Session
from virtkit.constants import DomainXMLFlags
from virtkit.errors import VirtError

#: the definition as edited: inactive, secrets included (it is written back whole)
EDIT_FLAGS = DomainXMLFlags.INACTIVE | DomainXMLFlags.SECURE


def editor() -> str:
    """The editor command: ``$VISUAL``, else ``$EDITOR``, else ``vi`` (virsh's order)."""
    return os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"


def interactive() -> bool:
    """Whether a failed definition may be offered for editing again (a terminal answers)."""
    return sys.stdin.isatty()


def edit_xml(subject: str, read: Callable[[], str], define: Callable[[str], str]) -> None:
    """Edit the XML ``read()`` gives in the user's editor and hand it to ``define``, as
    virsh's edit commands do; ``define`` raises :class:`VirtError` when the XML is refused and
    returns the line that says it was taken. ``subject`` names what is edited in messages.

    Nothing changes when the editor leaves the XML as it was, or when ``read()`` no longer
    gives what was edited (another user changed it); a refused or overtaken edit is offered
    again where a terminal can answer, and fails otherwise."""
    original = read()
    fd, path = tempfile.mkstemp(prefix="virtkit", suffix=".xml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(original)
        while True:
            edited = _run_editor(path)
            if edited == original:
                click.echo(f"{subject} XML configuration not changed.\n")
                return
            if read() != original:
                problem = "The XML configuration was changed by another user."
            else:
                try:
                    done = define(edited)
                except VirtError as exc:
                    click.echo(f"error: {exc.message}", err=True)
                    problem = "Failed."
                else:
                    click.echo(done)
                    return
            if not interactive():
                raise CommandFailed(problem)
            if not click.confirm(f"{problem} Try again?", default=True, err=True):
                raise CommandFailed(f"{subject} XML configuration not changed.")
            original = read()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


@click.command("edit")
@domain_argument
@click.pass_obj
def cmd_edit(session: Session, domain: str) -> None:
    """Edit a domain's XML configuration in $VISUAL or $EDITOR, then define it."""
    dom = session.domain(domain)

    def define(edited: str) -> str:
        session.conn.define_xml(edited)
        return f"Domain '{dom.name()}' XML configuration edited.\n"

    edit_xml(f"Domain '{dom.name()}'", lambda: dom.xml_desc(EDIT_FLAGS), define)


def _run_editor(path: str) -> str:
    """Run the editor on ``path`` (through the shell, so that ``$EDITOR`` may carry options);
    the file's text afterwards."""
    command = f"{editor()} {shlex.quote(path)}"
    try:
        status = subprocess.run(command, shell=True, check=False).returncode
    except OSError as exc:
        raise CommandFailed(f"cannot run the editor '{editor()}': {exc.strerror}") from exc
    if status != 0:
        raise CommandFailed(f"the editor '{editor()}' failed (exit status {status})")
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandFailed(f"cannot read the edited file {path}: {exc}") from exc
