"""What a fresh ``test:///default`` holds and the host it pretends to be (libvirt 9.0's values)."""

from __future__ import annotations

import socket

DEFAULT_NAME = "test"
DEFAULT_UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"

DEFAULT_DOMAIN_XML = f"""\
<domain type='test'>
  <name>{DEFAULT_NAME}</name>
  <uuid>{DEFAULT_UUID}</uuid>
  <memory unit='KiB'>8388608</memory>
  <currentMemory unit='KiB'>2097152</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os>
    <type arch='i686'>hvm</type>
    <boot dev='hd'/>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <source file='/guest/diskimage1'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </disk>
    <interface type='network'>
      <mac address='aa:bb:cc:dd:ee:ff'/>
      <source network='default'/>
      <target dev='testnet0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>
    </interface>
    <memballoon model='virtio'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
    </memballoon>
  </devices>
</domain>
"""
"""The running domain ``test`` of libvirt's default test node, as ``virsh dumpxml`` shows it."""

GUEST_ARCH = "i686"
"""The architecture of the test node's guests (the default of ``<os><type arch=...>``)."""

HYPERVISOR_VERSION = 2
"""libvirt's test driver reports hypervisor version 0.0.2."""


def hostname() -> str:
    """The test driver reports the real host's name, as libvirt's does."""
    return socket.gethostname()


def _cell(cell_id: int, memory_kib: int, page_kib: int) -> str:
    cpus = "\n".join(
        f"            <cpu id='{cell_id * 8 + core}' socket_id='{cell_id}' die_id='0' "
        f"core_id='{core}' siblings='{cell_id * 8 + core}'/>"
        for core in range(8)
    )
    return f"""\
        <cell id='{cell_id}'>
          <memory unit='KiB'>{memory_kib}</memory>
          <pages unit='KiB' size='{page_kib}'>524288</pages>
          <pages unit='KiB' size='2048'>0</pages>
          <pages unit='KiB' size='1048576'>0</pages>
          <cpus num='8'>
{cpus}
          </cpus>
        </cell>
"""


def _guest(os_type: str) -> str:
    return f"""\
  <guest>
    <os_type>{os_type}</os_type>
    <arch name='i686'>
      <wordsize>32</wordsize>
      <emulator>/usr/bin/test-hv</emulator>
      <domain type='test'/>
    </arch>
    <features>
      <pae/>
      <nonpae/>
    </features>
  </guest>
"""


def capabilities() -> str:
    """The host capabilities of libvirt's test node: two NUMA cells of 8 CPUs, i686 guests."""
    return f"""\
<capabilities>

  <host>
    <cpu>
      <arch>i686</arch>
      <features>
        <pae/>
        <nonpae/>
      </features>
      <pages unit='KiB' size='4'/>
      <pages unit='KiB' size='8'/>
      <pages unit='KiB' size='2048'/>
      <pages unit='KiB' size='1048576'/>
    </cpu>
    <power_management/>
    <iommu support='no'/>
    <topology>
      <cells num='2'>
{_cell(0, 2097152, 4)}{_cell(1, 4194304, 8)}      </cells>
    </topology>
    <secmodel>
      <model>testSecurity</model>
      <doi></doi>
    </secmodel>
  </host>

{_guest("hvm")}
{_guest("xen")}
</capabilities>
"""
