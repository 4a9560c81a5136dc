"""RelaxNG validation against libvirt's schemas, which libvirt installs (virtkit does not
ship them): ``$VIRTKIT_SCHEMA_DIR``, else :data:`SYSTEM_SCHEMAS`."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from lxml import etree

from virtkit.errors import NoSupportError, XMLError
from virtkit.xml.parser import PARSER

#: root element -> schema file
SCHEMAS = {"domain": "domain.rng", "domainsnapshot": "domainsnapshot.rng"}
SCHEMA_DIR_VAR = "VIRTKIT_SCHEMA_DIR"
SYSTEM_SCHEMAS = Path("/usr/share/libvirt/schemas")
"""Where libvirt installs its schemas (Debian's ``libvirt0``, Fedora's ``libvirt-libs``)."""


def schema_folder() -> Path:
    """The folder of libvirt's schemas: ``$VIRTKIT_SCHEMA_DIR``, else :data:`SYSTEM_SCHEMAS`."""
    value = os.environ.get(SCHEMA_DIR_VAR)
    return Path(value) if value else SYSTEM_SCHEMAS


@cache
def _schema(path: Path) -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse(str(path), PARSER))


def validate(text: str | bytes, *, schema: str | None = None, folder: Path | None = None) -> None:
    """Raise :class:`XMLError` naming the line when ``text`` does not validate.

    ``schema``: the file name in ``folder`` (default: chosen by the root element; the folder
    by :func:`schema_folder`).

    :raises NoSupportError: the schema is not there (libvirt's schemas are not installed)."""
    data = text.encode() if isinstance(text, str) else text
    try:
        doc = etree.fromstring(data, PARSER)
    except etree.XMLSyntaxError as exc:
        raise XMLError(f"malformed XML: {exc}") from None
    name = schema or SCHEMAS.get(str(doc.tag))
    if name is None:
        raise XMLError(f"no schema known for root element <{doc.tag}>")
    path = (folder or schema_folder()) / name
    if not path.is_file():
        raise NoSupportError(
            f"cannot validate against libvirt's schemas: {path} is missing (install them, e.g. "
            f"with Debian's libvirt0 package, or set {SCHEMA_DIR_VAR} to their folder)"
        )
    rng = _schema(path)
    if not rng.validate(doc):
        error = rng.error_log.last_error
        where = f"line {error.line}" if error is not None else "document"
        message = error.message if error is not None else "invalid"
        raise XMLError(f"{where}: does not validate against {name}: {message}")
