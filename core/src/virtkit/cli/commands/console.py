"""``console``: attach the terminal to a running domain's text console."""

from __future__ import annotations

import os
import select
import socket
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

from virtkit.cli.commands.domain_info import domain_argument
from virtkit.cli.session import CommandFailed, Session, failing
from virtkit.domain import Domain

ESCAPE = b"\x1d"
"""Ctrl+], virsh's escape character: detaches from the console."""


@contextmanager
def open_endpoint(path: str) -> Iterator[int]:
    """A read-write file descriptor on a console: a unix socket is connected, a terminal
    device opened in raw mode (so the guest, not this host, interprets keys)."""
    try:
        is_socket = stat.S_ISSOCK(os.stat(path).st_mode)
        if is_socket:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(path)
            fd = sock.detach()
        else:
            fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    except OSError as exc:
        raise CommandFailed(f"cannot open console '{path}': {exc.strerror}") from exc
    try:
        if os.isatty(fd):
            import tty

            tty.setraw(fd)
        yield fd
    finally:
        os.close(fd)


@contextmanager
def raw_terminal(fd: int) -> Iterator[None]:
    """Put terminal ``fd`` in raw mode for the block (nothing to do when it is no terminal)."""
    if not os.isatty(fd):
        yield
        return
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def pump(console: int, user_in: int, user_out: int) -> None:
    """Copy the console to ``user_out`` and ``user_in`` to the console until the user types
    the escape character or the console closes."""
    while True:
        ready, _, _ = select.select([console, user_in], [], [])
        if user_in in ready:
            data = os.read(user_in, 4096)
            if not data:
                return
            head, escaped, _ = data.partition(ESCAPE)
            if head:
                os.write(console, head)
            if escaped:
                return
        if console in ready:
            try:
                data = os.read(console, 4096)
            except OSError:  # a pseudo-terminal whose other end closed
                return
            if not data:
                return
            os.write(user_out, data)


def attach_console(dom: Domain, devname: str | None = None) -> None:
    """Attach the terminal to the console ``devname`` of the running ``dom`` (its first when
    ``None``) until the user types Ctrl+] or the console closes."""
    with failing(f"Failed to open the console of domain '{dom.name()}'"):
        path = dom.open_console(devname)
    with open_endpoint(path) as console:
        click.echo(f"Connected to domain '{dom.name()}'")
        click.echo("Escape character is ^] (Ctrl + ])")
        stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
        sys.stdout.flush()
        with raw_terminal(stdin):
            pump(console, stdin, stdout)
        click.echo()


console_option = click.option(
    "--console", "console", is_flag=True, help="attach to the console after creation"
)


@click.command("console")
@domain_argument
@click.option("--devname", metavar="NAME", help="character device alias (default: the first)")
@click.pass_obj
def cmd_console(session: Session, domain: str, devname: str | None) -> None:
    """Attach the terminal to a running domain's serial console (leave with Ctrl+])."""
    attach_console(session.domain(domain), devname)
