"""RelaxNG validation against libvirt's schemas (the folder is the conformance corpus's
``schemas/`` unless given)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree

from virtkit.errors import XMLError
from virtkit.xml.parser import PARSER

#: root element -> schema file
SCHEMAS = {"domain": "domain.rng", "domainsnapshot": "domainsnapshot.rng"}


def schema_folder() -> Path:
    """libvirt's schemas as shipped with the conformance corpus."""
    from virtkit.testing.conformance import corpus_root

    return corpus_root() / "schemas"


@cache
def _schema(path: Path) -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse(str(path), PARSER))


def validate(text: str | bytes, *, schema: str | None = None, folder: Path | None = None) -> None:
    """Raise :class:`XMLError` naming the line when ``text`` does not validate.

    ``schema``: the file name in ``folder`` (default: chosen by the root element).
    """
    data = text.encode() if isinstance(text, str) else text
    try:
        doc = etree.fromstring(data, PARSER)
    except etree.XMLSyntaxError as exc:
        raise XMLError(f"malformed XML: {exc}") from None
    name = schema or SCHEMAS.get(str(doc.tag))
    if name is None:
        raise XMLError(f"no schema known for root element <{doc.tag}>")
    rng = _schema((folder or schema_folder()) / name)
    if not rng.validate(doc):
        error = rng.error_log.last_error
        where = f"line {error.line}" if error is not None else "document"
        message = error.message if error is not None else "invalid"
        raise XMLError(f"{where}: does not validate against {name}: {message}")
