"""``migrate``: move a domain to the host of another connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import click

from virtkit.cli.commands.domain_info import domain_argument
from virtkit.cli.options import combined, flag_options
from virtkit.cli.progress import progress_bar
from virtkit.cli.session import Session, failing
from virtkit.constants import DomainMigrateFlags as F
from virtkit.errors import VirtError

FLAG_OPTIONS = (
    ("live", "live migration", F.LIVE),
    ("offline", "offline migration", F.OFFLINE),
    ("persistent", "persist VM on destination", F.PERSIST_DEST),
    ("undefinesource", "undefine VM on source", F.UNDEFINE_SOURCE),
    ("suspend", "do not restart the domain on the destination host", F.PAUSED),
    (
        "copy-storage-all",
        "migration with non-shared storage with full disk copy",
        F.NON_SHARED_DISK,
    ),
    ("auto-converge", "force convergence during live migration", F.AUTO_CONVERGE),
    ("postcopy", "enable post-copy migration", F.POSTCOPY),
)


def run_with_deadline(
    job: Callable[[], Any],
    timeout: float | None,
    on_timeout: Callable[[], None],
    on_interrupt: Callable[[], None],
) -> Any:
    """Run ``job`` in a worker thread; call ``on_timeout`` once if it is still running after
    ``timeout`` seconds and ``on_interrupt`` on Ctrl-C, then wait for it and return its result
    (or raise its exception)."""
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["value"] = job()
        except BaseException as exc:  # handed to the calling thread
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="virtkit-migrate", daemon=True)
    worker.start()
    try:
        worker.join(timeout)
        if worker.is_alive():
            on_timeout()
        worker.join()
    except KeyboardInterrupt:
        on_interrupt()
        worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def _best_effort(call: Callable[[], None]) -> Callable[[], None]:
    """``call``, reporting its failure on stderr instead of raising (the job goes on)."""

    def run() -> None:
        try:
            call()
        except VirtError as exc:
            click.echo(f"error: {exc.message}", err=True)

    return run


@click.command("migrate")
@flag_options(FLAG_OPTIONS)
@click.option(
    "--bandwidth",
    type=click.IntRange(min=1),
    metavar="MiB/s",
    help="migration bandwidth limit in MiB/s",
)
@click.option(
    "--max-downtime",
    type=click.IntRange(min=1),
    metavar="MS",
    help="maximum tolerable downtime (in milliseconds) for migration",
)
@click.option(
    "--timeout",
    type=click.IntRange(min=1),
    metavar="SECONDS",
    help="suspend the guest if live migration has not finished after SECONDS",
)
@click.option("--verbose", is_flag=True, help="display the progress of migration")
@click.option(
    "--listen-address",
    metavar="ADDRESS",
    help="listen address that destination should bind to for incoming migration",
)
@click.option("--migrateuri", metavar="URI", help="migration URI, usually can be omitted")
@domain_argument
@click.argument("dest_uri", metavar="DEST_URI")
@click.pass_obj
def cmd_migrate(
    session: Session,
    flags: tuple[str, ...],
    bandwidth: int | None,
    max_downtime: int | None,
    timeout: int | None,
    verbose: bool,
    listen_address: str | None,
    migrateuri: str | None,
    domain: str,
    dest_uri: str,
) -> None:
    """Migrate a domain to the host of DEST_URI."""
    import virtkit

    migrate_flags = F(combined(flags, FLAG_OPTIONS))
    if timeout is not None and not migrate_flags & F.LIVE:
        raise click.UsageError("migrate: --timeout requires --live")
    params = {
        key: value
        for key, value in (
            ("bandwidth", bandwidth),
            ("max_downtime", max_downtime),
            ("listen_address", listen_address),
            ("migrate_uri", migrateuri),
        )
        if value is not None
    }
    dom = session.domain(domain)
    with failing("failed to connect to the migration destination"):
        dest = virtkit.open(dest_uri)
    try:
        with (
            failing(f"Failed to migrate domain '{dom.name()}' to {dest_uri}"),
            progress_bar("Migration", enabled=verbose) as progress,
        ):
            run_with_deadline(
                lambda: dom.migrate(dest, int(migrate_flags), params, progress=progress),
                timeout,
                on_timeout=_best_effort(dom.suspend),
                on_interrupt=_best_effort(dom.abort_job),
            )
    finally:
        dest.close()
