#!/usr/bin/env bash
# Installs Debian's libvirt 9.0 as the reference the benchmarks in bench/ compare virtkit with,
# and prepares its daemon to run on these machines. Not used by CI: benchmarks are not tests.
#
#   scripts/setup-libvirt.sh            install and configure; safe to run again
#   scripts/setup-libvirt.sh --start    the same, then start the system libvirtd if it is not up
#
# What it does (each step only when needed):
# - Debian packages: libvirt-daemon, libvirt-daemon-driver-qemu, libvirt-daemon-driver-lxc,
#   libvirt-clients (virsh), libvirt-dev, pkg-config and python3-dev (to build the Python
#   binding: the .venv runs on Debian's python3, whose headers come apart);
# - libvirt-python==9.0.0 into the repository's .venv (scripts/setup.sh makes the .venv);
# - the user and group libvirt-qemu (the package's postinst does not create them here);
# - /etc/libvirt/qemu.conf: QEMU runs as root, no security driver, stdio_handler "file";
# - /etc/libvirt/libvirtd.conf: a fixed host_uuid (dmidecode cannot read one here).
set -euo pipefail
cd "$(dirname "$0")/.."

start=0
for arg in "$@"; do
    case "$arg" in
        --start) start=1 ;;
        -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "setup-libvirt.sh: unknown argument '$arg' (use --start or --help)" >&2; exit 2 ;;
    esac
done

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

LIBVIRT_PACKAGES=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-daemon-driver-lxc libvirt-clients
                  libvirt-dev pkg-config python3-dev qemu-system-x86 qemu-utils)
missing=()
for pkg in "${LIBVIRT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    "${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq -o DPkg::Lock::Timeout=600 \
        --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    echo "setup-libvirt.sh: no .venv here; run scripts/setup.sh first" >&2
    exit 1
fi
if ! .venv/bin/python -c 'import libvirt, sys; sys.exit(libvirt.getVersion() // 1000000 != 9)' 2>/dev/null; then
    .venv/bin/python -m pip install -q --disable-pip-version-check libvirt-python==9.0.0
fi

getent group libvirt-qemu >/dev/null || "${sudo_cmd[@]}" groupadd --system libvirt-qemu
getent passwd libvirt-qemu >/dev/null || "${sudo_cmd[@]}" useradd --system --no-create-home \
    --gid libvirt-qemu --home-dir /var/lib/libvirt --shell /usr/sbin/nologin libvirt-qemu

# set_option FILE KEY VALUE: make "KEY = VALUE" the one active setting of KEY in FILE.
set_option() {
    local file=$1 key=$2 value=$3
    "${sudo_cmd[@]}" mkdir -p "$(dirname "$file")"
    "${sudo_cmd[@]}" touch "$file"
    if grep -Eq "^[[:space:]]*${key}[[:space:]]*=" "$file"; then
        "${sudo_cmd[@]}" sed -i -E "s|^[[:space:]]*${key}[[:space:]]*=.*|${key} = ${value}|" "$file"
    else
        echo "${key} = ${value}" | "${sudo_cmd[@]}" tee -a "$file" >/dev/null
    fi
}

set_option /etc/libvirt/qemu.conf user '"root"'
set_option /etc/libvirt/qemu.conf group '"root"'
set_option /etc/libvirt/qemu.conf security_driver '"none"'
set_option /etc/libvirt/qemu.conf stdio_handler '"file"'
set_option /etc/libvirt/libvirtd.conf host_uuid '"4a0e0e5e-6b9f-4c44-9d0c-1f8f3b1e2a71"'

if [ "$start" -eq 1 ]; then
    if virsh -c qemu:///system version >/dev/null 2>&1; then
        echo "libvirtd is already running"
    else
        "${sudo_cmd[@]}" libvirtd -d
        for _ in $(seq 50); do
            virsh -c qemu:///system version >/dev/null 2>&1 && break
            sleep 0.1
        done
        virsh -c qemu:///system version >/dev/null
        echo "libvirtd started"
    fi
fi
echo "libvirt $(virsh --version) ready; Python binding $(.venv/bin/python -c 'import libvirt; print(libvirt.getVersion())')"
