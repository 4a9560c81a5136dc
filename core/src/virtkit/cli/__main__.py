"""``python -m virtkit.cli``."""

from virtkit.cli import main

main()
