"""A domain's background job: ``domjobinfo`` and ``domjobabort``."""

from __future__ import annotations

import click

from virtkit.cli.commands.domain_info import domain_argument
from virtkit.cli.output import capacity
from virtkit.cli.session import Session, failing
from virtkit.constants import DomainJobType
from virtkit.records import JobInfo

JOB_TYPE_NAMES = ("None", "Bounded", "Unbounded", "Completed", "Failed", "Cancelled")
OPERATION_NAMES = {
    "start": "Start",
    "save": "Save",
    "restore": "Restore",
    "migration_in": "Incoming migration",
    "migration_out": "Outgoing migration",
    "snapshot": "Snapshot",
    "snapshot_revert": "Snapshot revert",
    "dump": "Dump",
    "backup": "Backup",
}
"""virsh's words for libvirt's job operations (:attr:`JobInfo.operation`); others as given."""

EXTRA_STATS = (
    ("memory_bps", "Memory bandwidth:", "rate"),
    ("memory_dirty_rate", "Dirty rate:", "pages/s"),
    ("memory_page_size", "Page size:", "bytes"),
    ("memory_iteration", "Iteration:", ""),
    ("memory_postcopy_requests", "Postcopy requests:", ""),
    ("memory_constant", "Constant pages:", ""),
    ("memory_normal", "Normal pages:", ""),
    ("memory_normal_bytes", "Normal data:", "size"),
    ("downtime", "Expected downtime:", "ms"),
    ("setup_time", "Setup time:", "ms"),
    ("auto_converge_throttle", "Auto converge throttle:", ""),
)
"""Statistics shown when the driver reports them: key, label, unit (``size`` and ``rate``
are scaled like virsh does)."""


def _line(label: str, value: str) -> str:
    return f"{label:<17} {value}\n"


def job_text(info: JobInfo, completed: bool) -> str:
    """``domjobinfo``'s layout: labels in 17 columns, sizes scaled to binary units."""
    kind = JOB_TYPE_NAMES[info.type] if 0 <= info.type < len(JOB_TYPE_NAMES) else "Unknown"
    out = _line("Job type:", f"{kind:<12}")
    if info.type == DomainJobType.NONE:
        return out
    if info.operation:
        operation = OPERATION_NAMES.get(info.operation, info.operation)
        out += _line("Operation:", f"{operation:<12}")
    out += _line("Time elapsed:", f"{info.time_elapsed:<12} ms")
    if info.type == DomainJobType.BOUNDED:
        out += _line("Time remaining:", f"{info.time_remaining:<12} ms")
    for label, processed, remaining, total in (
        ("Data", info.data_processed, info.data_remaining, info.data_total),
        ("Memory", info.mem_processed, info.mem_remaining, info.mem_total),
    ):
        if processed or remaining or total:
            out += _line(f"{label} processed:", capacity(processed))
            out += _line(f"{label} remaining:", capacity(remaining))
            out += _line(f"{label} total:", capacity(total))
    for key, label, unit in EXTRA_STATS:
        if key not in info.stats:
            continue
        value = info.stats[key]
        if key == "downtime" and completed:
            label = "Total downtime:"
        if unit == "size":
            text = capacity(int(value))
        elif unit == "rate":
            text = capacity(int(value)) + "/s"
        else:
            text = f"{value!s:<12} {unit}".rstrip() if unit else str(value)
        out += _line(label, text)
    return out


@click.command("domjobinfo")
@domain_argument
@click.option("--completed", is_flag=True, help="return statistics of a recently completed job")
@click.pass_obj
def cmd_domjobinfo(session: Session, domain: str, completed: bool) -> None:
    """Show the progress of a domain's running job (or the last completed one)."""
    dom = session.domain(domain)
    with failing(f"failed to get job information for domain '{dom.name()}'"):
        info = dom.job_info(completed=completed)
    click.echo(job_text(info, completed))


@click.command("domjobabort")
@domain_argument
@click.pass_obj
def cmd_domjobabort(session: Session, domain: str) -> None:
    """Abort a domain's running job (migration, save...)."""
    dom = session.domain(domain)
    with failing(f"Failed to abort the job of domain '{dom.name()}'"):
        dom.abort_job()
