"""Option helpers shared by commands that map many virsh flags onto libvirt flag bits."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import click

from virtkit.cli.session import CommandFailed

FlagChoice = tuple[str, str, int]
"""``(option name without --, help text, flag bit)``."""


def flag_options(
    choices: Sequence[FlagChoice],
) -> Callable[[click.decorators.FC], click.decorators.FC]:
    """Add one ``--NAME`` flag per choice; the command receives the names given as ``flags``."""

    def decorate(func: click.decorators.FC) -> click.decorators.FC:
        for name, help_text, _ in reversed(choices):
            option = click.option(
                f"--{name}", "flags", flag_value=name, multiple=True, help=help_text
            )
            func = option(func)
        return func

    return decorate


def combined(chosen: Sequence[str], choices: Sequence[FlagChoice]) -> int:
    """The OR of the flag bits of the ``chosen`` option names."""
    bits = 0
    for name, _, flag in choices:
        if name in chosen:
            bits |= flag
    return bits


def exclusive(**given: bool) -> None:
    """Refuse two options given together, in virsh's words; keyword names are option names
    (``_`` for ``-``)."""
    names = [name.replace("_", "-") for name, value in given.items() if value]
    if len(names) > 1:
        raise CommandFailed(f"Options --{names[0]} and --{names[1]} are mutually exclusive")
