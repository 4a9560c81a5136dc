"""vcsim fixtures: one standalone ESX host and one vCenter per test session, and an auth file
holding the password (never on the command line)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from virtkit_esx.vcsim import Simulator, running_vcsim

USER, PASSWORD = "tester", "s3cret"


@pytest.fixture(scope="session")
def esx_sim() -> Iterator[Simulator]:
    with running_vcsim(esx=True) as sim:
        yield sim


@pytest.fixture(scope="session")
def vpx_sim() -> Iterator[Simulator]:
    with running_vcsim(esx=False) as sim:
        yield sim


@pytest.fixture(scope="session")
def auth_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("auth") / "auth.conf"
    path.write_text(
        f"[credentials-sim]\nauthname={USER}\npassword={PASSWORD}\n\n"
        "[auth-esx-127.0.0.1]\ncredentials=sim\n\n[auth-vpx-127.0.0.1]\ncredentials=sim\n\n"
        "[auth-gsx-127.0.0.1]\ncredentials=sim\n"
    )
    return path


@pytest.fixture(autouse=True)
def _auth_env(auth_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIRTKIT_AUTH_FILE", str(auth_file))


@pytest.fixture
def esx_uri(esx_sim: Simulator) -> str:
    return f"esx://{USER}@{esx_sim.host}:{esx_sim.port}/?no_verify=1"


@pytest.fixture
def vpx_uri(vpx_sim: Simulator) -> object:
    """``vpx_uri(host)``: the URI of one host of vcsim's cluster DC0_C0."""

    def make(host: str) -> str:
        return f"vpx://{USER}@{vpx_sim.host}:{vpx_sim.port}/DC0/DC0_C0/{host}?no_verify=1"

    return make
