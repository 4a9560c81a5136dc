"""The README's support matrix is the one the installed plugins report."""

from __future__ import annotations

import re
from pathlib import Path

from virtkit.cli.commands.plugins import support_matrix
from virtkit.plugins import DISTRIBUTION_FOR_SCHEME, DRIVER_GROUP, entry_points

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"<!-- support-matrix:start -->\n(.*?)<!-- support-matrix:end -->", re.S)


def test_every_driver_of_this_repository_is_installed() -> None:
    installed = {ep.name for ep in entry_points(DRIVER_GROUP)}
    missing = sorted(set(DISTRIBUTION_FOR_SCHEME) - installed)
    assert not missing, (
        f"drivers {missing} are not installed: run scripts/setup.sh (it installs every plugin)"
    )


def test_readme_matrix_matches_the_installed_plugins() -> None:
    match = BLOCK.search(README.read_text(encoding="utf-8"))
    assert match, "README.md has no support-matrix block"
    assert match.group(1) == support_matrix(), (
        "README.md's support matrix is out of date: replace the block with the output of "
        "`virtkit plugins --matrix`"
    )
