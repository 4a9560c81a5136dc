"""The console relay on its own (no Xen host): a client of its socket talks to the command on
a terminal, and the command is stopped when either side ends."""

from __future__ import annotations

import socket
import time

from virtkit_xen.console import ConsoleRelay


def _connect(relay: ConsoleRelay) -> socket.socket:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(relay.path)
    client.settimeout(10)
    return client


def _read_until(client: socket.socket, marker: bytes) -> bytes:
    seen = b""
    while marker not in seen:
        data = client.recv(4096)
        assert data, f"the relay closed before {marker!r}: {seen!r}"
        seen += data
    return seen


def test_relay_carries_both_ways_and_stops_the_command_on_close() -> None:
    relay = ConsoleRelay(["sh", "-c", "echo ready; read line; echo got-$line; sleep 60"])
    with _connect(relay) as client:
        _read_until(client, b"ready")
        client.sendall(b"abc\n")
        assert b"got-abc" in _read_until(client, b"got-")
        started = time.monotonic()
        relay.close()
        assert time.monotonic() - started < 5, "close waited for the command's sleep"
        assert client.recv(4096) == b"", "the client was not disconnected"


def test_relay_ends_with_its_command_and_takes_one_client() -> None:
    relay = ConsoleRelay(["sh", "-c", "echo bye"])
    with _connect(relay) as client:
        assert b"bye" in _read_until(client, b"bye")
        while client.recv(4096):  # the command exited: the relay closes the client
            pass
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as second:
        try:
            second.connect(relay.path)
        except OSError:
            pass  # the socket is gone once its one client connected
        else:
            raise AssertionError("a second client could connect to a used console socket")
    relay.close()
