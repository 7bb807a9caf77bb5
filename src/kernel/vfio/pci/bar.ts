/**
 * vfio-pci's BAR mappings (drivers/vfio/pci/vfio_pci_core.c): mmap of a region, the fault
 * handler that inserts the BAR's pfns, and the zap that removes every process's PTEs of them.
 */

import { deviceOf } from '../../../core/lookup.js';
import { initialState } from '../../../core/stepper.js';
import { Tx } from '../../../core/tx.js';
import type { Device, Vma, Process } from '../../../core/world.js';
import { PAGE_SIZE, hex } from '../../../log/u64.js';
import type { Prot } from '../../../vocab/records.js';
import { assertHeld } from '../../../core/locks.js';
import { lockOf } from '../../../vocab/locks.js';
import { barPagesMissing } from '../../mm/mmap.js';

/** VFIO_PCI_OFFSET_SHIFT: a region's offset in the device file is its index << 40. */
const OFFSET_SHIFT = 40n;

/** VFIO_PCI_ROM_REGION_INDEX: regions at or above it (ROM, config, VGA) cannot be mmapped. */
const ROM_REGION_INDEX = 6n;

/** VFIO_PCI_NUM_REGIONS. */
const NUM_REGIONS = 9n;

/** vfio_pci_core.c:vfio_pci_core_mmap: checks in order; no PTE is installed at mmap time. */
export function barMmap(tx: Tx, d: Device, file: number, addr: bigint, length: bigint, offset: bigint, prot: Prot): Vma {
  const at = 'vfio_pci_core.c:vfio_pci_core_mmap';
  if (d.mdev) tx.fail('EINVAL', 'the model\'s mdev vendor drivers have no mmap op');
  const index = offset >> OFFSET_SHIFT;
  if (index >= NUM_REGIONS) tx.fail('EINVAL', `${at}: index >= VFIO_PCI_NUM_REGIONS + num_regions`);
  // (vm_end < vm_start cannot happen; the model's device mmaps are MAP_SHARED.)
  if (index >= ROM_REGION_INDEX) tx.fail('EINVAL', `${at}: index >= VFIO_PCI_ROM_REGION_INDEX`);
  const bar = d.bars.find((b) => BigInt(b.index) === index);
  // vfio_pci_probe_mmaps: bar_mmap_supported when the BAR is at least a page, or smaller and
  // page-aligned (`if (!(res->start & ~PAGE_MASK))`: the rest of its page is reserved as "vfio
  // sub-page reserved"; the model assumes that request_resource succeeds). A declared BAR has a
  // size (the log's BARs are powers of two, aligned to their size: docs/log-format.md, host.device).
  const mmapSupported = bar !== undefined && (bar.size >= PAGE_SIZE || (bar.phys & (PAGE_SIZE - 1n)) === 0n);
  if (bar === undefined || !mmapSupported) tx.fail('EINVAL', `${at}: !vdev->bar_mmap_supported[index]`);
  // `phys_len = PAGE_ALIGN(pci_resource_len(pdev, index)); req_start = pgoff << PAGE_SHIFT;` in
  // u64: req_start < 2^40 and req_len <= TASK_SIZE, so `req_start + req_len` cannot wrap.
  const reqStart = offset & ((1n << OFFSET_SHIFT) - 1n);
  const barLen = (bar.size + PAGE_SIZE - 1n) & ~(PAGE_SIZE - 1n);
  if (reqStart + length > barLen) tx.fail('EINVAL', `${at}: req_start + req_len > PAGE_ALIGN(bar_len)`);
  return { start: addr, end: addr + length, prot, kind: 'bar', phys: null, device: d.name, bar: bar.index, pgoff: reqStart, file, state: initialState('bar_mapping'), pages: [] };
}

/**
 * The fault of the page at `addr` (default: the vma's first): under down_read(memory_lock),
 * SIGBUS when runtime PM is engaged or memory decode is off (vfio_pci_vmf_insert_pfn: `if
 * (vdev->pm_runtime_engaged || !__vfio_pci_memory_enabled(vdev)) return VM_FAULT_SIGBUS;`), else
 * insert pfns. Since v6.12 (rule vfio-pci-huge-fault)
 * vfio_pci_mmap_huge_fault inserts the one pfn of the faulting page (vmf_insert_pfn; the model's
 * faults are order 0); before, vfio_pci_mmap_fault populated the whole vma. Returns whether the
 * page is now present.
 */
export function faultBar(tx: Tx, p: Process, v: Vma, addr: bigint = v.start): boolean {
  const d = deviceOf(tx.world, v.device!);
  const at = addr & ~(PAGE_SIZE - 1n);
  if (d.pmRuntimeEngaged || !d.memoryEnabled) {
    tx.emit('bar.fault', { pid: p.pid, addr: hex(at), device: d.name, bar: v.bar!, result: 'VM_FAULT_SIGBUS' });
    return false;
  }
  assertHeld(tx, lockOf.memory(d.name), `the BAR PTEs of ${d.name} in mm ${p.mm}`, 'read'); // vfio_pci_core.c:vfio_pci_vmf_insert_pfn: lockdep_assert_held_read(&vdev->memory_lock)
  const inserted = tx.release.has('vfio-pci-huge-fault') ? [at] : barPagesMissing(v, v.start, v.end);
  v.pages = [...new Set([...(v.pages ?? []), ...inserted])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  tx.fire('bar_mapping', `${p.mm}@${hex(v.start)}`, v, 'FAULT');
  tx.emit('bar.fault', { pid: p.pid, addr: hex(at), device: d.name, bar: v.bar!, result: 'VM_FAULT_NOPAGE' });
  return true;
}

/**
 * vfio_pci_zap_bars (v6.10+): unmap_mapping_range over the device inode, so every process's
 * BAR mmaps of the device lose their PTEs. IOMMU mappings of the BAR are not touched.
 */
export function zapBars(tx: Tx, d: Device): void {
  assertHeld(tx, lockOf.memory(d.name), `the BAR PTEs of ${d.name}`, 'write'); // vfio_pci_core.c: vfio_pci_zap_bars runs in vfio_pci_zap_and_down_write_memory_lock, after down_write(&vdev->memory_lock)
  for (const mm of tx.world.mms.values()) {
    for (const v of mm.vmas) {
      if (v.kind === 'bar' && v.device === d.name && v.state === 'populated') {
        v.pages = [];
        tx.fire('bar_mapping', `${mm.id}@${hex(v.start)}`, v, 'ZAP');
        tx.emit('bar.zapped', { mm: mm.id, start: hex(v.start), end: hex(v.end), device: d.name, bar: v.bar! });
      }
    }
  }
}
