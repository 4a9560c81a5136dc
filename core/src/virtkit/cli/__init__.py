"""``virtkit``: a command-line tool familiar to virsh users, over the public API.

Commands live in :mod:`virtkit.cli.commands` and are imported only when invoked, so that a
plain ``virtkit list`` starts fast.
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI (the ``virtkit`` console script); exits with the command's status."""
    from virtkit.cli.app import cli

    cli.main(args=list(argv) if argv is not None else None, prog_name="virtkit")
