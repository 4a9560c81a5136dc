"""virtkit's records on the dom0 (``/var/lib/virtkit/xen`` unless ``$VIRTKIT_XEN_STATE`` on
the dom0 says otherwise): domain definitions, managed save images and snapshot metadata.

Every change is one shell script run under ``flock`` on the store's lock file; a file is
written to a temporary name and renamed into place, so readers never see half a file and two
virtkit processes (on any machine) never interleave their changes.
"""

from __future__ import annotations

from virtkit_xen.remote import quote

ROOT = "/var/lib/virtkit/xen"
ROOT_SHELL = '"${VIRTKIT_XEN_STATE:-' + ROOT + '}"'


def store(script: str) -> str:
    """``script`` with ``$S`` set to the store (for reads: files change by rename only)."""
    folders = '"$S/domains" "$S/save" "$S/snapshots" "$S/run"'
    return f'S={ROOT_SHELL}; [ -d "$S/run" ] || mkdir -p {folders}\n{script}'


def locked(script: str) -> str:
    """``script`` run while holding the store's lock (blocking), with ``$S`` set to the store."""
    return store(f'exec 9>"$S/.lock"; flock 9\n{script}')


def write_file(path: str, content: str) -> str:
    """A shell fragment writing ``content`` to ``path`` (relative to ``$S``) atomically: to a
    temporary name, then renamed (the shell's own ``printf``, so no process but ``mv``)."""
    target = f'"$S"/{quote(path)}'
    folder = f'"$S"/{quote(path.rpartition("/")[0])}'
    return (
        f"[ -d {folder} ] || mkdir -p {folder}; printf %s {quote(content)} > {target}.tmp && "
        f"mv -f {target}.tmp {target}\n"
    )


def remove(path: str) -> str:
    """A shell fragment removing ``path`` (relative to ``$S``), file or folder."""
    return f'rm -rf "$S"/{quote(path)}\n'
