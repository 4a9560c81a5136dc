"""The layouts match what virsh 9.0 prints (expected strings copied from its output)."""

from __future__ import annotations

import io

from virtkit.cli.output import capacity, fields, table, tree
from virtkit.cli.progress import ProgressBar, progress_bar
from virtkit.records import Progress


def test_table_pads_columns_and_rules_like_virsh() -> None:
    assert table(
        ["Id", "Name", "State"], [["1", "test", "running"], ["-", "demo", "shut off"]]
    ) == (
        " Id   Name   State\n"
        "-----------------------\n"
        " 1    test   running\n"
        " -    demo   shut off\n"
        "\n"
    )


def test_empty_table_still_has_header_rule_and_blank_line() -> None:
    assert table(["Id", "Name", "State"], []) == " Id   Name   State\n--------------------\n\n"


def test_last_column_is_not_padded_but_keeps_its_separator() -> None:
    text = table(["Id", "Name", "State", "Title"], [["1", "test", "running", ""]])
    assert text.splitlines()[1] == "-" * 30
    assert text.splitlines()[2] == " 1    test   running   "


def test_fields_align_values() -> None:
    assert fields([("Id:", "1"), ("Managed save:", "no")], 15) == (
        "Id:             1\nManaged save:   no\n"
    )


def test_tree_matches_virsh_for_branches_and_leaves() -> None:
    kids = {"s1": ["s2", "s4"], "s2": ["s3"]}
    assert tree(["s1"], lambda n: kids.get(n, [])) == (
        "s1\n  |\n  +- s2\n  |   |\n  |   +- s3\n  |     \n  +- s4\n    \n\n"
    )


def test_tree_of_leaf_roots() -> None:
    assert tree(["b", "c"], lambda n: []) == "b\n\nc\n\n\n"


def test_capacity_scales_to_binary_units() -> None:
    assert capacity(0) == "0.000 B"
    assert capacity(1023) == "1023.000 B"
    assert capacity(1536 * 1024) == "1.500 MiB"
    assert capacity(3 * 1024**4) == "3.000 TiB"


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_draws_on_a_terminal_and_ends_the_line() -> None:
    out = FakeTerminal()
    with progress_bar("Save", stream=out) as callback:
        assert callback is not None
        callback(Progress(operation="save", processed=45, total=100))
        callback(Progress(operation="save", processed=100, total=100))
    text = out.getvalue()
    assert "\rSave: [" + "#" * 13 + "." * 17 + "]  45 %" in text
    assert "\rSave: [" + "#" * 30 + "] 100 %" in text
    assert text.endswith("\n")


def test_progress_with_unknown_total_shows_the_amount_done() -> None:
    out = FakeTerminal()
    bar = ProgressBar("Migration", out)
    bar.update(Progress(operation="migrate", processed=2 * 1024 * 1024, total=0))
    assert "\rMigration: 2.000 MiB" in out.getvalue()


def test_no_progress_bar_off_a_terminal() -> None:
    out = io.StringIO()
    with progress_bar("Save", stream=out) as callback:
        assert callback is None
    assert out.getvalue() == ""


def test_no_progress_bar_when_not_asked_for() -> None:
    with progress_bar("Migration", enabled=False, stream=FakeTerminal()) as callback:
        assert callback is None
