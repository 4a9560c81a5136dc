"""URI options of the ESX driver, checked before anything connects."""

from __future__ import annotations

import pytest
from virtkit.errors import InvalidArgumentError
from virtkit.uri import ConnectURI
from virtkit_esx.options import ConnectOptions


def options(uri: str) -> ConnectOptions:
    return ConnectOptions.from_uri(ConnectURI.parse(uri))


def test_default_ports_follow_scheme_and_transport() -> None:
    assert options("esx://h/").port == 443
    assert options("esx://h/?transport=http").port == 80
    assert options("gsx://h").port == 8333
    assert options("vpx://vc/DC/cluster/host").path == ("DC", "cluster", "host")
    assert options("esx://root@h:9443/?no_verify=1").verify is False


def test_proxy_parameter() -> None:
    assert options("esx://h/?proxy=proxy.lan:3128").proxy == ("proxy.lan", 3128)
    assert options("esx://h/?proxy=http://p").proxy == ("p", 1080)
    with pytest.raises(InvalidArgumentError, match="only http proxies"):
        options("esx://h/?proxy=socks://p:1080")
    with pytest.raises(InvalidArgumentError, match="not \\[http://\\]host\\[:port\\]"):
        options("esx://h/?proxy=p:port")


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        ("esx:///", "a host is required"),
        ("esx+ssh://h/", "no '\\+transport'"),
        ("vpx://vc/DC", "must name datacenter"),
        ("gsx://h/path", "name a host only"),
    ],
)
def test_bad_uris_say_what_is_wrong(uri: str, words: str) -> None:
    with pytest.raises(InvalidArgumentError, match=words):
        options(uri)
