"""A driver plugin made from plugins/_template in another folder is found by its scheme once
installed, with no change to core: copy, rename to "acme", install into a fresh venv, connect."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from virtkit.testing.contract import DriverContract

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "plugins" / "_template"

CHECK_CONNECTION = """
import json, virtkit
with virtkit.open("acme:///") as conn:
    dom = conn.define_xml("<domain type='test'><name>vm1</name></domain>")
    dom.create()
    print(json.dumps({
        "type": conn.get_type(),
        "uri": conn.get_uri(),
        "domains": [(d.name(), d.is_active()) for d in conn.list_all_domains()],
    }))
"""


def copy_renamed(source: Path, target: Path, old: str, new: str) -> None:
    """Copy the template replacing ``old`` by ``new`` in paths and texts, in every case form a
    plugin author would: example, Example, EXAMPLE."""
    pairs = [(old, new), (old.capitalize(), new.capitalize()), (old.upper(), new.upper())]

    def rename(text: str) -> str:
        for a, b in pairs:
            text = text.replace(a, b)
        return text

    for path in source.rglob("*"):
        relative = path.relative_to(source)
        if any(
            part in {"__pycache__", "build"} or part.endswith(".egg-info")
            for part in relative.parts
        ):
            continue
        destination = target / rename(str(relative))
        if path.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_text(rename(path.read_text(encoding="utf-8")), encoding="utf-8")


def run(*args: str | Path, cwd: Path | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "VIRTKIT_DEFAULT_URI": ""},
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}"
    )
    return result.stdout


@pytest.fixture(scope="module")
def acme_venv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A fresh venv holding core (from ./core) and the renamed plugin, nothing of this checkout."""
    work = tmp_path_factory.mktemp("acme")
    plugin = work / "virtkit-acme"
    copy_renamed(TEMPLATE, plugin, "example", "acme")
    venv = work / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "-q",
        REPO / "core",
        f"{plugin}[test]",
    )
    return python, plugin


def test_renamed_copy_keeps_no_trace_of_the_template(acme_venv: tuple[Path, Path]) -> None:
    _, plugin = acme_venv
    assert (plugin / "src" / "virtkit_acme" / "driver.py").is_file()
    leftovers = [
        str(p.relative_to(plugin))
        for p in plugin.rglob("*")
        if p.is_file() and "example" in p.read_text(encoding="utf-8").lower()
    ]
    assert leftovers == []


def test_installed_plugin_serves_its_scheme(acme_venv: tuple[Path, Path]) -> None:
    python, _ = acme_venv
    out = json.loads(run(python, "-c", textwrap.dedent(CHECK_CONNECTION)))
    assert out == {
        "type": "Acme",
        "uri": "acme:///",
        "domains": [["vm1", True]],
    }
    core = run(python, "-c", "import virtkit; print(virtkit.__file__)")
    assert Path(core).resolve().is_relative_to(python.parent.parent), "core came from elsewhere"


def test_virtkit_plugins_lists_it(acme_venv: tuple[Path, Path]) -> None:
    python, _ = acme_venv
    listing = run(python.parent / "virtkit", "plugins")
    line = next((row for row in listing.splitlines() if "acme" in row), None)
    assert line is not None, f"acme missing from `virtkit plugins`:\n{listing}"
    assert "virtkit-acme" in line and "0.1.0" in line
    operations = listing.split("acme:", 1)[-1]
    assert "domain_define" in operations and "domain_start" in operations, listing


def test_template_tests_pass_on_the_copy(acme_venv: tuple[Path, Path]) -> None:
    """The copy's own tests and the whole shared driver contract run, and all pass."""
    python, plugin = acme_venv
    out = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=plugin)
    own = sum(p.read_text().count("\ndef test_") for p in (plugin / "tests").glob("test_*.py"))
    contract = len([name for name in dir(DriverContract) if name.startswith("test_")])
    summary = out.strip().splitlines()[-1]
    assert re.fullmatch(rf"{own + contract} passed in [\d.]+s", summary), out
