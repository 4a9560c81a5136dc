"""What runs as the container's first process (pid 1 of its pid namespace) before it becomes
init: the root filesystem, ``/proc``, ``/sys``, ``/dev`` and the console, then ``execve``.

Runs in a forked child that already has its own namespaces; every mount it makes is private to
its mount namespace, so the host sees none of them and they vanish with the container.
"""

from __future__ import annotations

import os

from virtkit_lxc import linux
from virtkit_lxc.config import ContainerConfig

HOST_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
"""Character devices a container gets, bind-mounted from the host (works in a user namespace,
where ``mknod`` does not)."""

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _inside(root: str, path: str) -> str:
    return os.path.join(root, path.lstrip("/"))


def _mount_point(path: str, *, is_file: bool = False) -> None:
    if is_file:
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
    else:
        os.makedirs(path, exist_ok=True)


def _bind(source: str, target: str, *, readonly: bool = False) -> None:
    _mount_point(target, is_file=not os.path.isdir(source))
    linux.mount(source, target, None, linux.MS_BIND | linux.MS_REC)
    if readonly:
        linux.mount(None, target, None, linux.MS_BIND | linux.MS_REMOUNT | linux.MS_RDONLY)


def _filesystems(config: ContainerConfig, root: str) -> None:
    for mount in config.mounts:
        target = _inside(root, mount.target)
        if mount.kind == "bind":
            _bind(mount.source, target, readonly=mount.readonly)
        else:
            _mount_point(target)
            options = f"size={mount.size_bytes}" if mount.size_bytes else None
            flags = linux.MS_NOSUID | linux.MS_NODEV | (linux.MS_RDONLY if mount.readonly else 0)
            linux.mount("tmpfs", target, "tmpfs", flags, options)


def _proc_and_sys(root: str) -> None:
    proc = _inside(root, "/proc")
    _mount_point(proc)
    linux.mount("proc", proc, "proc", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)
    # As libvirt does: the kernel's tunables stay read-only inside the container.
    _bind(f"{proc}/sys", f"{proc}/sys", readonly=True)
    sys_dir = _inside(root, "/sys")
    _mount_point(sys_dir)
    linux.mount(
        "sysfs",
        sys_dir,
        "sysfs",
        linux.MS_RDONLY | linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC,
    )


def _dev(root: str, console: str | None) -> None:
    dev = _inside(root, "/dev")
    _mount_point(dev)
    linux.mount("devfs", dev, "tmpfs", linux.MS_NOSUID | linux.MS_NOEXEC, "mode=755,size=64k")
    for name in HOST_DEVICES:
        _bind(f"/dev/{name}", f"{dev}/{name}")
    os.mkdir(f"{dev}/pts")
    linux.mount(
        "devpts",
        f"{dev}/pts",
        "devpts",
        linux.MS_NOSUID | linux.MS_NOEXEC,
        "newinstance,ptmxmode=0666,mode=0620",
    )
    os.symlink("pts/ptmx", f"{dev}/ptmx")
    os.mkdir(f"{dev}/shm")
    linux.mount("shm", f"{dev}/shm", "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, "mode=1777")
    for fd, name in enumerate(("stdin", "stdout", "stderr")):
        os.symlink(f"/proc/self/fd/{fd}", f"{dev}/{name}")
    os.symlink("/proc/self/fd", f"{dev}/fd")
    if console:
        _bind(console, f"{dev}/console")


def _enter_root(root: str) -> None:
    # pivot_root(".", ".") stacks the old root under the new one; detaching it leaves only the
    # container's tree, without a leftover folder in its root filesystem.
    os.chdir(root)
    linux.pivot_root(".", ".")
    linux.umount(".", linux.MNT_DETACH)
    os.chdir("/")


def _stdio(console: str | None) -> None:
    os.setsid()
    fd = os.open("/dev/console" if console else "/dev/null", os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(fd, target)
    if fd > 2:
        os.close(fd)


def environment(config: ContainerConfig) -> dict[str, str]:
    """init's environment: what libvirt gives it, then the ``<initenv>`` values."""
    env = {
        "PATH": DEFAULT_PATH,
        "TERM": "linux",
        "HOME": "/",
        "container": "lxc-libvirt",
        "container_uuid": str(config.uuid),
        "LIBVIRT_LXC_NAME": config.name,
        "LIBVIRT_LXC_UUID": str(config.uuid),
    }
    env.update(config.init_env)
    return env


def prepare_mount_points(config: ContainerConfig) -> None:
    """Create, as the host's root, the folders and files the container's mounts go on (inside a
    user namespace the container's root may not write to a root filesystem the host owns)."""
    root = os.path.realpath(config.root)
    for path in ("/proc", "/sys", "/dev"):
        _mount_point(_inside(root, path))
    for mount in config.mounts:
        is_file = mount.kind == "bind" and not os.path.isdir(mount.source)
        _mount_point(_inside(root, mount.target), is_file=is_file)


def become_init(config: ContainerConfig, console: str | None) -> None:
    """Set up the container's filesystems and replace this process with its init.

    :param console: host path of the pty slave that becomes ``/dev/console``, or ``None``.
    :raises OSError: a mount or the ``execve`` failed (the caller reports it).
    """
    root = os.path.realpath(config.root)
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    linux.mount(root, root, None, linux.MS_BIND | linux.MS_REC)
    _filesystems(config, root)
    _proc_and_sys(root)
    _dev(root, console)
    _enter_root(root)
    linux.sethostname(config.name)
    _stdio(console)
    os.chdir(config.init_dir or "/")
    linux.drop_capabilities(config.dropped_capabilities)
    os.execve(config.init, [config.init, *config.init_args], environment(config))
