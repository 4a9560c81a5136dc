"""Live migration between two real Xen hosts through virtkit's migration phases."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import virtkit
from virtkit.constants import DomainMigrateFlags, DomainState
from virtkit.errors import VirtError
from virtkit_xen.testhost import (
    XenHost,
    build_host_image,
    console_waiter,
    guest_xml,
    migration_pair,
)

pytestmark = pytest.mark.xen


@pytest.fixture(scope="module")
def hosts() -> Iterator[tuple[XenHost, XenHost]]:
    build_host_image()
    pair = migration_pair()
    try:
        yield pair
    finally:
        for host in pair:
            host.stop()


def _last_tick(host: XenHost, name: str) -> int:
    out = host.run(f"grep -o 'tick [0-9]*' /var/log/xen/console/guest-{name}.log | tail -1")
    match = re.search(r"tick (\d+)", out)
    return int(match.group(1)) if match else 0


def test_live_migration_between_two_hosts(hosts: tuple[XenHost, XenHost]) -> None:
    source_host, dest_host = hosts
    src, dst = virtkit.open(source_host.uri), virtkit.open(dest_host.uri)
    try:
        dom = src.define_xml(guest_xml("vk-mig"))
        dom.create()
        console_waiter(source_host)("vk-mig", "tick 3")

        # an address nobody answers on fails in perform and rolls both sides back
        with pytest.raises(VirtError, match="perform"):
            dom.migrate(dst, DomainMigrateFlags.LIVE, {"migrate_uri": "tcp://10.99.0.3:8002"})
        assert dom.state()[0] in (DomainState.RUNNING, DomainState.BLOCKED)
        assert "vk-mig" not in [d.name() for d in dst.list_all_domains()]

        seen = []
        moved = dom.migrate(
            dst,
            DomainMigrateFlags.LIVE
            | DomainMigrateFlags.PERSIST_DEST
            | DomainMigrateFlags.UNDEFINE_SOURCE,
            {"migrate_uri": "tcp://10.99.0.2:8002"},
            progress=seen.append,
        )
        assert moved.state()[0] in (DomainState.RUNNING, DomainState.BLOCKED)
        assert moved.is_persistent()
        assert seen and seen[-1].processed == seen[-1].total > 0
        assert "vk-mig" not in [d.name() for d in src.list_all_domains()]
        # the guest runs on at the destination: it keeps using CPU there (xl counts CPU time
        # in tenths of a second, which a guest ticking once a second can take seconds to use)
        spent = moved.info().cpu_time_ns
        for _ in range(20):
            dest_host.run("sleep 1")
            if moved.info().cpu_time_ns > spent:
                break
        assert moved.info().cpu_time_ns > spent, "the migrated guest does not run"
        assert _last_tick(source_host, "vk-mig") > 3
        moved.destroy()
        moved.undefine()
    finally:
        src.close()
        dst.close()
