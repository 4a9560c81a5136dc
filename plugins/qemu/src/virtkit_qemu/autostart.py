"""Start every autostart domain of a root: ``python -m virtkit_qemu.autostart [URI]``.

Meant for a boot unit (there is no daemon to do it). Uses only the public API, so it works for
any driver. Exit status 1 when any domain failed to start (each failure is printed).
"""

from __future__ import annotations

import sys

import virtkit
from virtkit.constants import ConnectListAllDomainsFlags as Flags


def start_autostart_domains(conn: virtkit.Connection) -> dict[str, str | None]:
    """Start each inactive persistent autostart domain; ``{name: error message or None}``."""
    results: dict[str, str | None] = {}
    for dom in conn.list_all_domains(Flags.AUTOSTART | Flags.INACTIVE | Flags.PERSISTENT):
        try:
            dom.create()
            results[dom.name()] = None
        except virtkit.errors.VirtError as exc:  # one failure must not keep the others down
            results[dom.name()] = exc.message
    return results


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    uri = args[0] if args else "qemu:///system"
    failed = False
    with virtkit.open(uri) as conn:
        for name, error in start_autostart_domains(conn).items():
            if error is None:
                print(f"started {name}")
            else:
                failed = True
                print(f"failed to start {name}: {error}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
