"""Fixtures for the CLI tests: a private test-driver node per test and a runner that drives
the ``virtkit`` command over one connection to it, as the console script does."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import virtkit
from click.testing import CliRunner, Result
from virtkit.cli.app import cli
from virtkit.cli.session import Session

NODE_XML = """\
<node>
  <domain type='test'>
    <name>test</name>
    <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
    <title>The test domain</title>
    <memory unit='KiB'>8388608</memory>
    <currentMemory unit='KiB'>2097152</currentMemory>
    <vcpu>2</vcpu>
    <os><type arch='i686'>hvm</type></os>
  </domain>
</node>
"""
"""One running domain ``test`` with id 1, like ``test:///default``, but private to the test."""

DEMO_XML = """\
<domain type='test'>
  <name>demo</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
</domain>
"""

Run = Callable[..., Result]


@pytest.fixture
def node_uri(tmp_path: Path) -> str:
    node = tmp_path / "node.xml"
    node.write_text(NODE_XML)
    return f"test://{node}"


@pytest.fixture
def conn(node_uri: str) -> Iterator[virtkit.Connection]:
    with virtkit.open(node_uri) as connection:
        yield connection


@pytest.fixture
def demo_file(tmp_path: Path) -> Path:
    path = tmp_path / "demo.xml"
    path.write_text(DEMO_XML)
    return path


def runner_for(conn: virtkit.Connection) -> Run:
    """``run(*args)`` invokes ``virtkit ARGS`` over ``conn`` and returns click's result."""
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Result:
        return runner.invoke(
            cli,
            list(args),
            obj=Session(connection=conn),
            input=input,
            catch_exceptions=False,
            prog_name="virtkit",
        )

    return run


@pytest.fixture
def run(conn: virtkit.Connection) -> Run:
    return runner_for(conn)


@pytest.fixture
def editing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """``editing(script)``: the editor becomes a Python script run on the file (``path``),
    its temporary files go to ``tmp_path/tmp``."""
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    monkeypatch.setattr("tempfile.tempdir", None)
    monkeypatch.delenv("VISUAL", raising=False)

    def use(script: str) -> None:
        program = tmp_path / "editor.py"
        program.write_text(f"import sys, pathlib\npath = pathlib.Path(sys.argv[1])\n{script}\n")
        monkeypatch.setenv("EDITOR", f"{sys.executable} {program}")

    return use
