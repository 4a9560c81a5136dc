"""Domain and snapshot XML: faithful parse/format, with libvirt's canonical form as a separate step.

Placeholder interface; the full attrs model replaces it (see issue 2, item 5).
"""

from virtkit.xml.domain import DomainDef, parse_domain
from virtkit.xml.snapshot import SnapshotDef, parse_snapshot

__all__ = ["DomainDef", "SnapshotDef", "parse_domain", "parse_snapshot"]
