"""The save image format: a header holding the domain XML, then QEMU's migration stream.

Layout: the magic line ``VIRTKIT-QEMU-SAVE 1\\n``, an 8-byte little-endian length, that many
bytes of JSON (``{"xml": ..., "running": bool}``), then the stream QEMU wrote (``migrate`` to
a file descriptor) up to the end of the file.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import attrs
from virtkit.errors import InvalidArgumentError, OperationFailedError

MAGIC = b"VIRTKIT-QEMU-SAVE 1\n"
LENGTH = struct.Struct("<Q")
MAX_HEADER = 16 * 1024 * 1024


@attrs.frozen(kw_only=True)
class SaveHeader:
    xml: str
    running: bool


def write_header(fd: int, header: SaveHeader) -> None:
    body = json.dumps(attrs.asdict(header)).encode()
    os.write(fd, MAGIC + LENGTH.pack(len(body)) + body)


def open_image(path: Path) -> tuple[int, SaveHeader, int]:
    """Open a save image: ``(fd positioned at the stream, header, stream size)``.

    :raises InvalidArgumentError: not a file virtkit's QEMU driver wrote, or truncated.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise OperationFailedError(f"cannot open save image {path}: {exc.strerror}") from exc
    try:
        head = os.read(fd, len(MAGIC) + LENGTH.size)
        if not head.startswith(MAGIC) or len(head) < len(MAGIC) + LENGTH.size:
            raise InvalidArgumentError(f"{path} is not a virtkit QEMU save image (bad magic)")
        (length,) = LENGTH.unpack(head[len(MAGIC) :])
        if length > MAX_HEADER:
            raise InvalidArgumentError(f"save image {path} has a corrupt header length {length}")
        body = os.read(fd, length)
        try:
            data = json.loads(body)
            header = SaveHeader(xml=str(data["xml"]), running=bool(data["running"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidArgumentError(f"save image {path} has a corrupt header: {exc}") from None
        size = os.fstat(fd).st_size - os.lseek(fd, 0, os.SEEK_CUR)
        if size <= 0:
            raise InvalidArgumentError(f"save image {path} holds no memory state (truncated)")
        return fd, header, size
    except BaseException:
        os.close(fd)
        raise
