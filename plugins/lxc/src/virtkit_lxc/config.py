"""What a ``<domain type='lxc'>`` asks for, read from the XML and checked against what this
driver can honour.

Anything the driver cannot honour is refused with :class:`ConfigUnsupportedError` naming the
element, never silently dropped.
"""

from __future__ import annotations

import os
import uuid as uuidlib
from pathlib import Path

import attrs
from lxml import etree
from virtkit.errors import ConfigUnsupportedError, XMLError
from virtkit.xml import DomainDef
from virtkit.xml.units import bytes_per_unit

from virtkit_lxc.capabilities import CAPABILITY_NUMBERS, POLICIES, dropped_capabilities

_TOP_LEVEL = frozenset(
    {
        "name",
        "uuid",
        "title",
        "description",
        "metadata",
        "memory",
        "currentMemory",
        "memtune",
        "vcpu",
        "cputune",
        "os",
        "features",
        "clock",
        "on_poweroff",
        "on_reboot",
        "on_crash",
        "devices",
        "idmap",
        "resource",
    }
)
_DEVICES = frozenset({"emulator", "filesystem", "interface", "console"})
_FEATURES = frozenset({"privnet", "capabilities"})


def _where(el: etree._Element) -> str:
    return f"line {el.sourceline}: <{el.tag}>"


def unsupported(el: etree._Element, why: str) -> ConfigUnsupportedError:
    return ConfigUnsupportedError(f"{_where(el)} is not supported by the LXC driver: {why}")


def scaled_bytes(el: etree._Element, value: str | None = None, unit: str | None = None) -> int:
    """A size in bytes: ``value`` (default ``el``'s text) scaled by ``unit`` (default ``el``'s
    ``unit`` attribute, else KiB); errors name ``el``."""
    text = value if value is not None else el.text or ""
    try:
        per_unit = bytes_per_unit(unit if unit is not None else el.get("unit"))
    except ValueError as exc:
        raise XMLError(f"{_where(el)} has {exc}") from None
    try:
        return int(text.strip()) * per_unit
    except ValueError:
        raise XMLError(f"{_where(el)} value '{text}' is not an integer") from None


@attrs.frozen(kw_only=True)
class Mount:
    """A ``<filesystem>``: ``kind`` is ``bind`` (host folder) or ``ram`` (tmpfs)."""

    kind: str
    target: str
    source: str = ""
    readonly: bool = False
    size_bytes: int = 0


@attrs.frozen(kw_only=True)
class Interface:
    """A veth pair: ``host_name`` stays on the host (on ``bridge`` if set)."""

    kind: str
    host_name: str
    bridge: str | None
    mac: str | None
    addresses: tuple[str, ...] = ()  # "10.0.0.1/24" as the container side gets them


@attrs.frozen(kw_only=True)
class IdMap:
    """``<idmap>`` ranges as ``(start inside, target on host, count)``."""

    uid: tuple[tuple[int, int, int], ...]
    gid: tuple[tuple[int, int, int], ...]

    def host_id(self, kind: str, inside: int) -> int:
        """The host id that ``inside`` maps to (``kind`` is ``uid`` or ``gid``); -1 when
        unmapped (``chown`` then leaves it alone)."""
        for start, target, count in getattr(self, kind):
            if start <= inside < start + count:
                return int(target + inside - start)
        return -1


@attrs.frozen(kw_only=True)
class ContainerConfig:
    name: str
    uuid: uuidlib.UUID
    memory_bytes: int
    hard_limit_bytes: int | None
    soft_limit_bytes: int | None
    swap_limit_bytes: int | None
    vcpus: int
    cpu_shares: int | None
    init: str
    init_args: tuple[str, ...]
    init_env: tuple[tuple[str, str], ...]
    init_dir: str | None
    root: str
    mounts: tuple[Mount, ...]
    interfaces: tuple[Interface, ...]
    private_net: bool
    console: bool
    idmap: IdMap | None
    dropped_capabilities: frozenset[int]

    @property
    def memory_limit_bytes(self) -> int:
        """The cgroup memory limit: ``<memtune><hard_limit>``, else ``<memory>``."""
        return self.hard_limit_bytes or self.memory_bytes


def _text(root: etree._Element, path: str) -> str | None:
    el = root.find(path)
    return el.text.strip() if el is not None and el.text and el.text.strip() else None


def _check_known(parent: etree._Element, allowed: frozenset[str], what: str) -> None:
    for child in parent:
        if not isinstance(child.tag, str):
            continue
        if child.tag not in allowed:
            raise unsupported(child, f"{what} accepts only {', '.join(sorted(allowed))}")


def _os(
    root: etree._Element,
) -> tuple[str, tuple[str, ...], tuple[tuple[str, str], ...], str | None]:
    os_el = root.find("os")
    if os_el is None:
        raise XMLError(f"{_where(root)} has no <os>: a container needs <os><type>exe</type>")
    kind = _text(os_el, "type")
    if kind != "exe":
        raise unsupported(os_el, f"<type>{kind}</type>: containers run <type>exe</type>")
    allowed = frozenset({"type", "init", "initarg", "initenv", "initdir"})
    _check_known(os_el, allowed, "<os>")
    init = _text(os_el, "init") or "/sbin/init"
    if not init.startswith("/"):
        raise XMLError(f"{_where(os_el.find('init'))} '{init}' must be an absolute path")
    args = tuple((el.text or "") for el in os_el.findall("initarg"))
    env = tuple((el.get("name") or "", el.text or "") for el in os_el.findall("initenv"))
    return init, args, env, _text(os_el, "initdir")


def _filesystems(devices: etree._Element) -> tuple[str, tuple[Mount, ...]]:
    root = None
    mounts = []
    for fs in devices.findall("filesystem"):
        kind = fs.get("type", "mount")
        target_el = fs.find("target")
        target = target_el.get("dir") if target_el is not None else None
        if not target or not target.startswith("/"):
            raise XMLError(f"{_where(fs)} needs <target dir='/absolute/path'/>")
        readonly = fs.find("readonly") is not None
        source = fs.find("source")
        if kind == "mount":
            src = source.get("dir") if source is not None else None
            if not src:
                raise XMLError(f"{_where(fs)} type='mount' needs <source dir='...'/>")
            if fs.get("accessmode", "passthrough") != "passthrough":
                raise unsupported(fs, f"accessmode='{fs.get('accessmode')}'")
            if os.path.normpath(target) == "/":
                if readonly:
                    raise unsupported(fs, "a read-only root filesystem")
                root = src
                continue
            mounts.append(Mount(kind="bind", target=target, source=src, readonly=readonly))
        elif kind == "ram":
            usage = source.get("usage") if source is not None else None
            size = 0
            if usage:
                assert source is not None
                size = scaled_bytes(source, usage, source.get("units"))
            mounts.append(Mount(kind="ram", target=target, size_bytes=size, readonly=readonly))
        else:
            raise unsupported(fs, f"type='{kind}' (supported: mount, ram)")
    if root is None:
        raise XMLError(
            "the container has no root filesystem: add <filesystem type='mount'>"
            "<source dir='...'/><target dir='/'/></filesystem> to <devices>"
        )
    return root, tuple(mounts)


def _interfaces(devices: etree._Element, name: str) -> tuple[Interface, ...]:
    found = []
    for index, iface in enumerate(devices.findall("interface")):
        kind = iface.get("type")
        source = iface.find("source")
        bridge = None
        if kind == "bridge":
            bridge = source.get("bridge") if source is not None else None
            if not bridge:
                raise XMLError(f"{_where(iface)} type='bridge' needs <source bridge='...'/>")
        elif kind == "network":
            raise unsupported(
                iface,
                "type='network' needs a virtual network driver, which virtkit does not have; "
                "use type='bridge' with the network's bridge",
            )
        elif kind != "ethernet":
            raise unsupported(iface, f"type='{kind}' (supported: bridge, ethernet)")
        target = iface.find("target")
        host_name = target.get("dev") if target is not None and target.get("dev") else None
        mac = iface.find("mac")
        addresses = tuple(
            f"{ip.get('address')}/{ip.get('prefix', '24')}" for ip in iface.findall("ip")
        )
        found.append(
            Interface(
                kind=kind,
                host_name=host_name
                or f"vk{uuidlib.uuid5(uuidlib.NAMESPACE_OID, name).hex[:8]}h{index}",
                bridge=bridge,
                mac=mac.get("address") if mac is not None else None,
                addresses=addresses,
            )
        )
    return tuple(found)


def _idmap(root: etree._Element) -> IdMap | None:
    el = root.find("idmap")
    if el is None:
        return None
    ranges: dict[str, list[tuple[int, int, int]]] = {"uid": [], "gid": []}
    for child in el:
        if child.tag not in ranges:
            raise unsupported(child, "<idmap> holds <uid> and <gid>")
        try:
            ranges[child.tag].append(
                (
                    int(child.get("start", "")),
                    int(child.get("target", "")),
                    int(child.get("count", "")),
                )
            )
        except ValueError:
            raise XMLError(f"{_where(child)} needs integer start, target and count") from None
    if not ranges["uid"] or not ranges["gid"]:
        raise XMLError(f"{_where(el)} needs both <uid> and <gid>")
    return IdMap(uid=tuple(ranges["uid"]), gid=tuple(ranges["gid"]))


def _capabilities(features: etree._Element | None) -> frozenset[int]:
    """The capability numbers ``<features><capabilities>`` (or its absence: libvirt's
    default policy) drops."""
    el = features.find("capabilities") if features is not None else None
    if el is None:
        return dropped_capabilities("default", {})
    policy = el.get("policy", "default")
    if policy not in POLICIES:
        raise XMLError(f"{_where(el)} policy='{policy}' is not one of {', '.join(POLICIES)}")
    states: dict[str, bool] = {}
    for child in el:
        if not isinstance(child.tag, str):
            continue
        if child.tag not in CAPABILITY_NUMBERS:
            raise XMLError(f"{_where(child)} is no capability libvirt knows")
        if child.get("state") not in ("on", "off"):
            raise XMLError(f"{_where(child)} needs state='on' or state='off'")
        states[child.tag] = child.get("state") == "on"
    return dropped_capabilities(policy, states)


def container_config(definition: DomainDef) -> ContainerConfig:
    """Read and check ``definition``; raise naming the first element that cannot be honoured."""
    root = definition.tree()
    if definition.type != "lxc":
        raise unsupported(root, f"type='{definition.type}': the LXC driver runs type='lxc'")
    _check_known(root, _TOP_LEVEL, "<domain type='lxc'>")
    devices = root.find("devices")
    if devices is None:
        raise XMLError(f"{_where(root)} has no <devices> (the root <filesystem> goes there)")
    _check_known(devices, _DEVICES, "<devices>")
    features = root.find("features")
    if features is not None:
        _check_known(features, _FEATURES, "<features>")
    for console in devices.findall("console"):
        if console.get("type", "pty") != "pty":
            raise unsupported(console, f"type='{console.get('type')}' (consoles are type='pty')")
    memory_el = root.find("memory")
    if memory_el is None:
        raise XMLError(f"{_where(root)} has no <memory>")
    memtune = root.find("memtune")
    limits: dict[str, int | None] = {
        "hard_limit": None,
        "soft_limit": None,
        "swap_hard_limit": None,
    }
    if memtune is not None:
        for child in memtune:
            if child.tag not in limits:
                raise unsupported(
                    child, "<memtune> accepts hard_limit, soft_limit, swap_hard_limit"
                )
            limits[child.tag] = scaled_bytes(child)
    shares = _text(root, "cputune/shares")
    if (cputune := root.find("cputune")) is not None:
        _check_known(cputune, frozenset({"shares"}), "<cputune>")
    init, args, env, init_dir = _os(root)
    root_dir, mounts = _filesystems(devices)
    uuid = definition.uuid or uuidlib.uuid4()
    return ContainerConfig(
        name=definition.name,
        uuid=uuid,
        memory_bytes=scaled_bytes(memory_el),
        hard_limit_bytes=limits["hard_limit"],
        soft_limit_bytes=limits["soft_limit"],
        swap_limit_bytes=limits["swap_hard_limit"],
        vcpus=int(_text(root, "vcpu") or 1),
        cpu_shares=int(shares) if shares else None,
        init=init,
        init_args=args,
        init_env=env,
        init_dir=init_dir,
        root=root_dir,
        mounts=mounts,
        interfaces=_interfaces(devices, definition.name),
        private_net=features is not None and features.find("privnet") is not None,
        console=devices.find("console") is not None,
        idmap=_idmap(root),
        dropped_capabilities=_capabilities(features),
    )


def resolve_in_root(root: str, path: str, *, depth: int = 0) -> Path | None:
    """``path`` as the container will see it, resolved inside ``root`` (absolute symlinks point
    into the root, not the host); ``None`` when it does not exist."""
    base = Path(root)
    current = base
    for part in Path(path).relative_to("/").parts:
        candidate = current / part
        if candidate.is_symlink():
            if depth > 40:
                return None
            link = os.readlink(candidate)
            inside = os.path.join("/", os.path.relpath(current, base))
            target = os.path.normpath(os.path.join(inside, link))
            resolved = resolve_in_root(root, target, depth=depth + 1)
            if resolved is None:
                return None
            current = resolved
        elif candidate.exists():
            current = candidate
        else:
            return None
    return current


def check_startable(config: ContainerConfig) -> None:
    """Refuse, before anything is created, a container whose root or init is missing."""
    if not os.path.isdir(config.root):
        raise XMLError(
            f"root filesystem of container '{config.name}' not found: "
            f"<source dir='{config.root}'/> "
            "is not a directory"
        )
    init = resolve_in_root(config.root, config.init)
    if init is None or not init.is_file() or not os.access(init, os.X_OK):
        raise XMLError(
            f"init of container '{config.name}' not found: '{config.init}' is not an executable "
            f"file inside the root filesystem {config.root}"
        )
    if config.idmap is not None:
        _check_reachable(config.root, config.idmap)
    for mount in config.mounts:
        if mount.kind == "bind" and not os.path.exists(mount.source):
            raise XMLError(
                f"container '{config.name}': <filesystem> source '{mount.source}' (for "
                f"'{mount.target}') does not exist"
            )


def _check_reachable(root: str, idmap: IdMap) -> None:
    """In a user namespace the container's root is an ordinary user on the host: it must be
    able to search every folder on the way to the root filesystem."""
    uid, gid = idmap.host_id("uid", 0), idmap.host_id("gid", 0)
    for folder in Path(os.path.realpath(root)).parents:
        st = folder.stat()
        if st.st_uid == uid:
            ok = st.st_mode & 0o100
        elif st.st_gid == gid:
            ok = st.st_mode & 0o010
        else:
            ok = st.st_mode & 0o001
        if not ok:
            raise ConfigUnsupportedError(
                f"with <idmap>, the container's root (host uid {uid}) cannot reach its root "
                f"filesystem {root}: folder {folder} is not searchable by it"
            )
