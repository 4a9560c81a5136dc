"""``plugins``: installed drivers and extensions, and the support matrix the README carries."""

from __future__ import annotations

import textwrap

import click

from virtkit.cli.output import table
from virtkit.inventory import installed_plugins, operation_hooks


def _operation(hook: str) -> str:
    return hook.removeprefix("virtkit_")


def support_matrix() -> str:
    """Markdown table: one row per driver operation, one column per installed driver."""
    drivers = [p for p in installed_plugins() if p.kind == "driver"]
    header = "| Operation | " + " | ".join(f"`{d.name}`" for d in drivers) + " |"
    rule = "|---|" + "---|" * len(drivers)
    rows = [
        f"| `{_operation(hook)}` | "
        + " | ".join("yes" if hook in d.hooks else "-" for d in drivers)
        + " |"
        for hook in operation_hooks()
    ]
    return "\n".join([header, rule, *rows]) + "\n"


@click.command("plugins")
@click.option(
    "--matrix", is_flag=True, help="print the markdown support matrix (operations x drivers)"
)
def cmd_plugins(matrix: bool) -> None:
    """List installed drivers and extensions with their versions and operations."""
    if matrix:
        click.echo(support_matrix(), nl=False)
        return
    plugins = list(installed_plugins())
    total = len(operation_hooks())
    rows = [
        [
            p.name,
            p.kind,
            p.distribution,
            p.version,
            "failed to load"
            if p.error
            else (f"{len(p.hooks)}/{total}" if p.kind == "driver" else str(len(p.hooks))),
        ]
        for p in plugins
    ]
    click.echo(table(["Name", "Kind", "Distribution", "Version", "Operations"], rows), nl=False)
    for p in plugins:
        if p.error:
            body = f"failed to load ({p.target}): {p.error}"
        else:
            body = ", ".join(_operation(h) for h in p.hooks) or "(none)"
        click.echo(
            textwrap.fill(
                body,
                width=100,
                initial_indent=f"{p.name}: ",
                subsequent_indent=" " * (len(p.name) + 2),
            )
        )
        click.echo()
