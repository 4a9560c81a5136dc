"""Reading an LXC configuration file (``lxc.container.conf(5)``) into ordered entries.

A line is ``key = value``, a comment (``#`` first) or blank. Keys repeat (mount entries,
device rules, network settings); each entry remembers its line so that errors can name it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import attrs
from virtkit.errors import ConfigUnsupportedError, InvalidArgumentError

_ASSIGNMENT = re.compile(r"(?P<key>[A-Za-z0-9_.\-]+)\s*=\s*(?P<value>.*)")


@attrs.frozen
class Entry:
    """One ``key = value`` line."""

    key: str
    value: str
    line: int

    def invalid(self, reason: str) -> InvalidArgumentError:
        """An error naming this entry's line and key."""
        return InvalidArgumentError(f"LXC config line {self.line}: {self.key}: {reason}")

    def unsupported(self, reason: str) -> ConfigUnsupportedError:
        """An error for a setting virtkit (like libvirt) cannot convert."""
        return ConfigUnsupportedError(f"LXC config line {self.line}: {self.key}: {reason}")


@attrs.frozen
class LxcConfig:
    """The entries of one configuration file, in file order."""

    entries: tuple[Entry, ...]

    def first(self, *keys: str) -> Entry | None:
        """The first entry of the first of ``keys`` that is present (LXC 3.0 name first, then
        its legacy spelling), as libvirt looks them up."""
        for key in keys:
            for entry in self.entries:
                if entry.key == key:
                    return entry
        return None

    def all(self, *keys: str) -> Iterator[Entry]:
        """Every entry whose key is one of ``keys``, in file order."""
        return (e for e in self.entries if e.key in keys)

    def with_prefix(self, prefix: str) -> Iterator[Entry]:
        """Every entry whose key starts with ``prefix``, in file order."""
        return (e for e in self.entries if e.key.startswith(prefix))


def config_error(reason: str) -> InvalidArgumentError:
    """An error about the configuration as a whole (no single line to blame)."""
    return InvalidArgumentError(f"LXC config: {reason}")


def read_config(text: str) -> LxcConfig:
    """Parse ``text``; a line that is not an ``lxc.*`` assignment raises
    :class:`~virtkit.errors.InvalidArgumentError` naming the line."""
    entries = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _ASSIGNMENT.fullmatch(line)
        if match is None:
            raise InvalidArgumentError(
                f"LXC config line {number}: expected 'lxc.<key> = <value>', got {line!r}"
            )
        key = match["key"]
        if not key.startswith("lxc."):
            raise InvalidArgumentError(
                f"LXC config line {number}: {key}: not an LXC configuration key (lxc.*)"
            )
        entries.append(Entry(key, match["value"].strip(), number))
    return LxcConfig(tuple(entries))
