"""``edit``: a domain's definition changed in an editor (``$VISUAL``, ``$EDITOR``), defined
when it changed, offered again when it fails and a terminal can answer."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import virtkit
from click.testing import Result
from virtkit.cli.commands import domain_edit

Run = Callable[..., Result]


def memory_of(conn: virtkit.Connection, name: str) -> str:
    return conn.lookup_by_name(name).xml_desc(inactive=True).split("<memory")[1].split("<")[0]


def test_an_edit_is_defined(
    run: Run, conn: virtkit.Connection, editing: Callable[[str], None], tmp_path: Path
) -> None:
    editing("path.write_text(path.read_text().replace('8388608', '4194304'))")
    result = run("edit", "test")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Domain 'test' XML configuration edited.\n\n"
    assert memory_of(conn, "test") == " unit='KiB'>4194304"
    assert os.listdir(tmp_path / "tmp") == [], "the temporary file is removed"


def test_an_editor_that_changes_nothing_defines_nothing(
    run: Run, editing: Callable[[str], None]
) -> None:
    editing("pass")
    assert run("edit", "test").stdout == "Domain 'test' XML configuration not changed.\n\n"


def test_a_failed_definition_leaves_the_domain_as_it_was(
    run: Run, conn: virtkit.Connection, editing: Callable[[str], None], tmp_path: Path
) -> None:
    before = conn.lookup_by_name("test").xml_desc(inactive=True)
    editing("path.write_text(path.read_text().replace(\"unit='KiB'\", \"unit='parsecs'\", 1))")
    result = run("edit", "test")
    assert result.exit_code == 1
    assert "error: /domain/memory" in result.stderr and "error: Failed." in result.stderr
    assert conn.lookup_by_name("test").xml_desc(inactive=True) == before
    assert os.listdir(tmp_path / "tmp") == []


def test_at_a_terminal_a_failed_definition_is_edited_again(
    run: Run,
    conn: virtkit.Connection,
    editing: Callable[[str], None],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first edit breaks the XML; asked to try again, the second one mends it, keeping
    the first edit's other change."""
    monkeypatch.setattr(domain_edit, "interactive", lambda: True)
    editing(
        "text = path.read_text()\n"
        "if '<title>The test domain</title>' in text:\n"
        "    text = text.replace('The test domain', 'Renamed').replace('</name>', '</nam>')\n"
        "else:\n"
        "    text = text.replace('</nam>', '</name>')\n"
        "path.write_text(text)"
    )
    result = run("edit", "test", input="y\n")
    assert result.exit_code == 0, result.stderr
    assert "Failed. Try again? [Y/n]" in result.stderr
    assert result.stdout == "Domain 'test' XML configuration edited.\n\n"
    assert "<title>Renamed</title>" in conn.lookup_by_name("test").xml_desc(inactive=True)


def test_an_editor_that_fails_changes_nothing(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", "false")
    result = run("edit", "test")
    assert result.exit_code == 1
    assert "error: the editor 'false' failed (exit status 1)" in result.stderr
