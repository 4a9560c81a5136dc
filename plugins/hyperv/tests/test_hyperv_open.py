"""Opening ``hyperv://`` URIs: checked parameters, and a clear error when the host is not there
(no Hyper-V host is available to these tests)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import virtkit
from virtkit.errors import InvalidArgumentError, NoConnectError
from virtkit.uri import ConnectURI
from virtkit_hyperv.options import ConnectOptions
from virtkit_hyperv.wsman import instance_id_of, settings_query, wql_string


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_host_names_host_and_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIRTKIT_AUTH_FILE", str(tmp_path / "none.conf"))  # not read: fails first
    port = closed_port()
    with pytest.raises(NoConnectError, match=f"Hyper-V host 127.0.0.1 on port {port}"):
        virtkit.open(f"hyperv://127.0.0.1:{port}/?transport=http")


@pytest.mark.parametrize(
    ("uri", "port", "endpoint"),
    [
        ("hyperv://hv01/", 5986, "https://hv01:5986/wsman"),
        ("hyperv://admin@hv01/?transport=http&auth=basic", 5985, "http://hv01:5985/wsman"),
        ("hyperv://hv01:8000/?transport=https&auth=kerberos", 8000, "https://hv01:8000/wsman"),
    ],
)
def test_options(uri: str, port: int, endpoint: str) -> None:
    opts = ConnectOptions.from_uri(ConnectURI.parse(uri))
    assert (opts.port, opts.endpoint) == (port, endpoint)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("hyperv://hv01/?transport=ftp", "'transport' has unexpected value 'ftp'"),
        ("hyperv://hv01/?auth=digest", "'auth' has unexpected value 'digest'"),
        ("hyperv:///", "a host is required"),
        ("hyperv://hv01/vms", "unexpected path '/vms'"),
    ],
)
def test_bad_uris(uri: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        ConnectOptions.from_uri(ConnectURI.parse(uri))


def test_wql_strings_are_escaped() -> None:
    assert wql_string("it's a\\b") == "'it\\'s a\\\\b'"


def test_instance_id_of_an_object_path() -> None:
    path = (
        "\\\\HV01\\root\\virtualization\\v2:Msvm_VirtualSystemSettingData."
        'InstanceID="Microsoft:6B7A2C1E-0D3F-4E55-9A11-22B3C4D5E6F7"'
    )
    assert instance_id_of(path) == "Microsoft:6B7A2C1E-0D3F-4E55-9A11-22B3C4D5E6F7"
    assert instance_id_of("") == ""


def test_settings_are_found_through_their_association() -> None:
    query = settings_query("Microsoft:6B7A2C1E\\x", "Msvm_MemorySettingData")
    assert query == (
        'ASSOCIATORS OF {Msvm_VirtualSystemSettingData.InstanceID="Microsoft:6B7A2C1E\\\\x"} '
        "WHERE AssocClass = Msvm_VirtualSystemSettingDataComponent "
        "ResultClass = Msvm_MemorySettingData"
    )


def test_driver_hooks_follow_the_contract() -> None:
    """Every hook is a specified one with specified arguments (pluggy checks at register)."""
    from virtkit.testing.contract import declared_hooks
    from virtkit_hyperv.driver import HyperVDriver

    assert {
        "virtkit_domain_define",
        "virtkit_domain_shutdown",
        "virtkit_snapshot_revert",
        "virtkit_migrate_perform",
        "virtkit_domain_managed_save_remove",
    } <= declared_hooks(HyperVDriver)
