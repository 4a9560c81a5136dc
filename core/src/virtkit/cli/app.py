"""The root command: global options, lazy command loading and error reporting."""

from __future__ import annotations

from typing import Any

import click

from virtkit.cli.session import CommandFailed, Session
from virtkit.errors import VirtError

COMMANDS: dict[str, str] = {
    "list": "domain_list",
    "dominfo": "domain_info",
    "domstate": "domain_info",
    "domid": "domain_info",
    "domuuid": "domain_info",
    "domname": "domain_info",
    "dumpxml": "domain_info",
    "domblklist": "domain_devices",
    "domiflist": "domain_devices",
    "vncdisplay": "domain_devices",
    "ttyconsole": "domain_devices",
    "define": "domain_define",
    "edit": "domain_edit",
    "undefine": "domain_define",
    "create": "domain_define",
    "domrename": "domain_define",
    "autostart": "domain_define",
    "autostart-all": "autostart_all",
    "start": "domain_lifecycle",
    "shutdown": "domain_lifecycle",
    "destroy": "domain_lifecycle",
    "reboot": "domain_lifecycle",
    "reset": "domain_lifecycle",
    "suspend": "domain_lifecycle",
    "resume": "domain_lifecycle",
    "save": "domain_save",
    "restore": "domain_save",
    "managedsave": "domain_save",
    "managedsave-remove": "domain_save",
    "console": "console",
    "lxc-enter-namespace": "lxc_enter_namespace",
    "snapshot-create": "snapshot_create",
    "snapshot-create-as": "snapshot_create",
    "snapshot-list": "snapshot_list",
    "snapshot-info": "snapshot_query",
    "snapshot-dumpxml": "snapshot_query",
    "snapshot-current": "snapshot_query",
    "snapshot-parent": "snapshot_query",
    "snapshot-edit": "snapshot_edit",
    "snapshot-revert": "snapshot_change",
    "snapshot-delete": "snapshot_change",
    "migrate": "migrate",
    "domjobinfo": "jobs",
    "domjobabort": "jobs",
    "event": "events",
    "domxml-from-native": "native",
    "domxml-to-native": "native",
    "capabilities": "host",
    "hostname": "host",
    "uri": "host",
    "version": "host",
    "plugins": "plugins",
}
"""Command name -> module of :mod:`virtkit.cli.commands` defining it (as ``cmd_<name>``)."""


class LazyGroup(click.Group):
    """Imports a command's module only when that command is looked up, and turns every
    :class:`~virtkit.errors.VirtError` into virsh's ``error:`` lines and exit status 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = COMMANDS.get(cmd_name)
        if module_name is None:
            return None
        from importlib import import_module

        module = import_module(f"virtkit.cli.commands.{module_name}")
        command: click.Command = getattr(module, "cmd_" + cmd_name.replace("-", "_"))
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except VirtError as exc:
            raise CommandFailed(exc.message) from exc


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "-c",
    "--connect",
    "uri",
    metavar="URI",
    help="Hypervisor connection URI (default: $VIRTKIT_DEFAULT_URI, $LIBVIRT_DEFAULT_URI, "
    "then the first local driver that answers).",
)
@click.option("-r", "--readonly", is_flag=True, help="Open a read-only connection.")
@click.pass_context
def cli(ctx: click.Context, uri: str | None, readonly: bool) -> None:
    """Manage virtual machines and containers with libvirt's commands, URIs and domain XML."""
    if not isinstance(ctx.obj, Session):
        ctx.obj = Session(uri, read_only=readonly)
        ctx.call_on_close(ctx.obj.close)
