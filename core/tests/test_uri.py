"""libvirt's connection URI grammar: driver[+transport]://[user@][host][:port]/[path][?query]."""

from __future__ import annotations

import pytest
from virtkit.errors import ErrorCode, InvalidArgumentError
from virtkit.uri import ConnectURI


@pytest.mark.parametrize(
    ("text", "driver", "transport", "user", "host", "port", "path"),
    [
        ("qemu:///system", "qemu", None, None, None, None, "/system"),
        ("qemu:///session", "qemu", None, None, None, None, "/session"),
        ("test:///default", "test", None, None, None, None, "/default"),
        ("test:///tmp/node.xml", "test", None, None, None, None, "/tmp/node.xml"),
        ("lxc:///", "lxc", None, None, None, None, "/"),
        ("xen://", "xen", None, None, None, None, ""),
        ("qemu+ssh://user@host:22/system", "qemu", "ssh", "user", "host", 22, "/system"),
        ("qemu+tcp://example.com/system", "qemu", "tcp", None, "example.com", None, "/system"),
        ("qemu+unix:///system", "qemu", "unix", None, None, None, "/system"),
        ("esx://root@10.0.0.5/", "esx", None, "root", "10.0.0.5", None, "/"),
        ("qemu+ssh://[fe80::1]:2222/system", "qemu", "ssh", None, "fe80::1", 2222, "/system"),
        ("test:///with%20space/node.xml", "test", None, None, None, None, "/with space/node.xml"),
    ],
)
def test_parse_libvirt_forms(
    text: str,
    driver: str,
    transport: str | None,
    user: str | None,
    host: str | None,
    port: int | None,
    path: str,
) -> None:
    uri = ConnectURI.parse(text)
    assert (uri.driver, uri.transport, uri.user, uri.host, uri.port, uri.path) == (
        driver,
        transport,
        user,
        host,
        port,
        path,
    )


def test_query_parameters_keep_order_and_last_value_wins() -> None:
    uri = ConnectURI.parse("qemu+ssh://user@host:22/system?keyfile=x&no_verify=1&keyfile=y")
    assert uri.params == (("keyfile", "x"), ("no_verify", "1"), ("keyfile", "y"))
    assert uri.param("keyfile") == "y"
    assert uri.param("no_verify") == "1"
    assert uri.param("missing") is None
    assert uri.param("missing", "default") == "default"


def test_query_values_keep_plus_signs_and_split_on_semicolons() -> None:
    uri = ConnectURI.parse("qemu+ssh://h/system?keyfile=/k/id+ed25519;socket=/run/a%20b&flag")
    assert uri.params == (("keyfile", "/k/id+ed25519"), ("socket", "/run/a b"), ("flag", ""))
    assert ConnectURI.parse(str(uri)) == uri


def test_embed_root() -> None:
    uri = ConnectURI.parse("qemu:///embed?root=/var/tmp/my%20root")
    assert uri.path == "/embed"
    assert uri.param("root") == "/var/tmp/my root"
    assert uri.is_local


def test_local_and_remote() -> None:
    assert ConnectURI.parse("qemu:///system").is_local
    assert not ConnectURI.parse("qemu+ssh://h/system").is_local
    assert not ConnectURI.parse("qemu://h/system").is_local


def test_scheme_joins_driver_and_transport() -> None:
    assert ConnectURI.parse("qemu+ssh://h/system").scheme == "qemu+ssh"
    assert ConnectURI.parse("qemu:///system").scheme == "qemu"


@pytest.mark.parametrize(
    "text",
    [
        "qemu:///system",
        "qemu+ssh://user@host:22/system?keyfile=x",
        "qemu:///embed?root=/var/tmp/root",
        "test:///default",
        "qemu+ssh://[fe80::1]:2222/system",
    ],
)
def test_str_round_trips(text: str) -> None:
    uri = ConnectURI.parse(text)
    assert str(uri) == text
    assert ConnectURI.parse(str(uri)) == uri


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("", "expected driver[+transport]://"),
        ("qemu", "expected driver[+transport]://"),
        ("/system", "expected driver[+transport]://"),
        ("QEMU:///system", "scheme 'QEMU'"),
        ("qemu+:///system", "scheme 'qemu+'"),
        ("qemu+ssh+tls://h/system", "scheme 'qemu+ssh+tls'"),
        ("9qemu:///system", "scheme '9qemu'"),
        ("qemu+ssh://host:notaport/system", "Port"),
        ("qemu+ssh://host:99999/system", "Port"),
    ],
)
def test_bad_uris_say_what_is_wrong(text: str, complaint: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        ConnectURI.parse(text)
    assert info.value.code == ErrorCode.INVALID_ARG
    assert repr(text) in info.value.message
    assert complaint.lower() in info.value.message.lower()
