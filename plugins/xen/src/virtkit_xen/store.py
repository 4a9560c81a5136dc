"""virtkit's records on the dom0 (``/var/lib/virtkit/xen`` unless ``$VIRTKIT_XEN_STATE`` on
the dom0 says otherwise): domain definitions, managed save images and snapshot metadata.

Every change is one shell script run under ``flock`` on the store's lock file; a file is
written to a temporary name and renamed into place, so readers never see half a file and two
virtkit processes (on any machine) never interleave their changes.
"""

from __future__ import annotations

import base64

from virtkit_xen.remote import quote

ROOT = "/var/lib/virtkit/xen"
ROOT_SHELL = '"${VIRTKIT_XEN_STATE:-' + ROOT + '}"'


def locked(script: str) -> str:
    """``script`` run while holding the store's lock (blocking), with ``$S`` set to the store."""
    return (
        f'S={ROOT_SHELL}; mkdir -p "$S/domains" "$S/save" "$S/snapshots" "$S/run"\n'
        f'exec 9>"$S/.lock"; flock 9\n{script}'
    )


def write_file(path: str, content: str) -> str:
    """A shell fragment writing ``content`` to ``path`` (relative to ``$S``) atomically."""
    data = base64.b64encode(content.encode()).decode()
    target = f'"$S"/{quote(path)}'
    return (
        f'mkdir -p "$(dirname {target})"; printf %s {data} | base64 -d > {target}.tmp; '
        f"sync {target}.tmp; mv -f {target}.tmp {target}\n"
    )


def remove(path: str) -> str:
    """A shell fragment removing ``path`` (relative to ``$S``), file or folder."""
    return f'rm -rf "$S"/{quote(path)}\n'
