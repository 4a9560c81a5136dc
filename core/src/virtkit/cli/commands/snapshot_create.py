"""Taking snapshots: ``snapshot-create`` (from XML) and ``snapshot-create-as`` (from options)."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

import click

from virtkit.cli.commands.domain_define import read_file
from virtkit.cli.commands.domain_info import domain_argument
from virtkit.cli.session import CommandFailed, Session
from virtkit.domain import Domain

COMMON_FLAGS = (
    ("no-metadata", "take snapshot but create no metadata"),
    ("halt", "halt domain after snapshot is created"),
    ("disk-only", "capture disk state but not vm state"),
    ("atomic", "require atomic operation"),
    ("live", "take a live snapshot"),
)


def _flag_options(func: click.decorators.FC) -> click.decorators.FC:
    for name, help_text in reversed(COMMON_FLAGS):
        func = click.option(f"--{name}", is_flag=True, help=help_text)(func)
    return func


def _create(dom: Domain, xml: str, source: str | None, **options: bool) -> None:
    snap = dom.snapshot_create_xml(xml, **options)
    suffix = f" from '{source}'" if source else ""
    click.echo(f"Domain snapshot {snap.get_name()} created{suffix}")


@click.command("snapshot-create")
@domain_argument
@click.argument("file", metavar="[FILE]", required=False)
@click.option("--redefine", is_flag=True, help="redefine metadata for existing snapshot")
@click.option("--current", is_flag=True, help="with redefine, set current snapshot")
@_flag_options
@click.pass_obj
def cmd_snapshot_create(
    session: Session, /, domain: str, file: str | None, **options: bool
) -> None:
    """Create a snapshot from a <domainsnapshot> XML FILE (default: an empty one)."""
    dom = session.domain(domain)
    xml = read_file(file) if file else "<domainsnapshot/>"
    _create(dom, xml, file, **options)


@click.command("snapshot-create-as")
@domain_argument
@click.argument("name_arg", metavar="[NAME]", required=False)
@click.argument("description_arg", metavar="[DESCRIPTION]", required=False)
@click.option("--name", help="name of snapshot")
@click.option("--description", help="description of snapshot")
@click.option("--print-xml", is_flag=True, help="print XML document rather than create")
@_flag_options
@click.option("--memspec", metavar="SPEC", help="memory attributes: [file=]name[,snapshot=type]")
@click.option(
    "--diskspec",
    metavar="SPEC",
    multiple=True,
    help="disk attributes: disk[,snapshot=type][,driver=type][,file=name]",
)
@click.pass_obj
def cmd_snapshot_create_as(
    session: Session,
    /,
    domain: str,
    name_arg: str | None,
    description_arg: str | None,
    name: str | None,
    description: str | None,
    print_xml: bool,
    memspec: str | None,
    diskspec: tuple[str, ...],
    **options: bool,
) -> None:
    """Create a snapshot described by arguments."""
    for positional, option, label in (
        (name_arg, name, "name"),
        (description_arg, description, "description"),
    ):
        if positional is not None and option is not None:
            raise click.UsageError(
                f"the snapshot {label} is given twice: as argument and --{label}"
            )
    xml = snapshot_xml(
        name_arg if name_arg is not None else name,
        description_arg if description_arg is not None else description,
        memspec,
        diskspec,
    )
    if print_xml:
        click.echo(xml)
        return
    _create(session.domain(domain), xml, None, **options)


def _spec_values(items: list[str], text: str, what: str, keys: tuple[str, ...]) -> dict[str, str]:
    """``key=value`` items of a spec; an unknown or repeated key is an error naming the spec."""
    values: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in keys or key in values:
            raise CommandFailed(f"unable to parse {what}: {text}")
        values[key] = value
    return values


def _memspec(text: str) -> dict[str, str]:
    """``[file=]/path[,snapshot=type]``: a bare item starting with ``/`` is the file."""
    items = [f"file={i}" if i.startswith("/") else i for i in text.split(",")]
    return _spec_values(items, text, "memspec", ("file", "snapshot"))


def _diskspec(text: str) -> tuple[str, dict[str, str]]:
    """``disk[,snapshot=type][,driver=type][,file=name]``."""
    disk, *items = text.split(",")
    if not disk:
        raise CommandFailed(f"unable to parse diskspec: {text}")
    return disk, _spec_values(items, text, "diskspec", ("snapshot", "driver", "file"))


def _element(tag: str, attrs: dict[str, str], body: list[str] | None = None) -> list[str]:
    """Lines of one element, its children indented by two spaces."""
    opening = tag + "".join(f" {k}={quoteattr(v)}" for k, v in attrs.items())
    if not body:
        return [f"<{opening}/>"]
    return [f"<{opening}>", *(f"  {line}" for line in body), f"</{tag}>"]


def snapshot_xml(
    name: str | None, description: str | None, memspec: str | None, diskspecs: tuple[str, ...]
) -> str:
    """The ``<domainsnapshot>`` document virsh builds from snapshot-create-as's arguments."""
    body = [
        f"<{tag}>{escape(text)}</{tag}>"
        for tag, text in (("name", name), ("description", description))
        if text is not None
    ]
    if memspec:
        values = _memspec(memspec)
        body += _element("memory", {k: values[k] for k in ("snapshot", "file") if k in values})
    if diskspecs:
        disks: list[str] = []
        for spec in diskspecs:
            disk_name, values = _diskspec(spec)
            attrs = {"name": disk_name} | (
                {"snapshot": values["snapshot"]} if "snapshot" in values else {}
            )
            inner = _element("driver", {"type": values["driver"]}) if "driver" in values else []
            if "file" in values:
                inner += _element("source", {"file": values["file"]})
            disks += _element("disk", attrs, inner)
        body += _element("disks", {}, disks)
    return "\n".join(_element("domainsnapshot", {}, body)) + "\n"
