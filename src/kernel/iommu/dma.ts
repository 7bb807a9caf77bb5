/**
 * Device DMA through the IOMMU (drivers/iommu): translated by the page tables of the domain the
 * device's group is attached to, and where each piece lands, for the checks to judge.
 */

import { atOrBelow } from '../../core/iova-tree.js';
import { deviceOf, groupOf } from '../../core/lookup.js';
import { Tx, type Outcome, type DmaLanding } from '../../core/tx.js';
import type { Process } from '../../core/world.js';
import { hex, U64_MAX, wraps } from '../../log/u64.js';
import { BadReference } from '../../vocab/errors.js';
import type { StimulusOf } from '../../vocab/records.js';
import { findDma } from '../vfio/type1/dma-tree.js';
import { svaDma } from './sva.js';

/** The `device.dma` stimulus: translate and judge where it lands. */
export function deviceDma(tx: Tx, s: StimulusOf<'device.dma'>): Outcome {
  const d = deviceOf(tx.world, s.device);
  if (d.mdev) throw new BadReference('device', 'an mdev does not DMA itself; its vendor driver uses mdev.pin_pages or mdev.dma_rw');
  if (s.length === 0n) throw new BadReference('length', 'a DMA of length 0');
  // A device's bus address is 64 bits; a request does not wrap past 2^64 - 1 to 0.
  if (wraps(s.iova, s.length)) throw new BadReference('length', `iova + length runs past 2^64 - 1 (a device addresses no byte above ${hex(U64_MAX)})`);
  const write = s.write === true;
  if (!d.busMaster) {
    // PCI_COMMAND_MASTER clear: the function issues no memory request (PCIe: Bus Master
    // Enable "controls the ability of a Function to issue Memory and I/O Read/Write Requests"),
    // so nothing reaches the IOMMU and nothing lands.
    tx.emit('dma.not_issued', { device: d.name, reason: 'bus master off' });
    return { dma: 'fault', decidedBy: 'PCI_COMMAND_MASTER clear (vfio_pci_core_disable: pci_clear_master, pci_disable_device): the device issues no DMA' };
  }
  if (s.pasid !== undefined) return svaDma(tx, d, s.pasid, s.iova, s.length, write);
  const g = groupOf(tx.world, d.group);
  if (g.noiommu) {
    // No IOMMU: the bus address is the physical address; nothing granted it.
    tx.touched.landings.push({ kind: 'raw', phys: s.iova, size: s.length, device: d.name });
    tx.emit('dma.untranslated', { device: d.name, phys: hex(s.iova), length: hex(s.length) });
    return { dma: 'ok', decidedBy: 'noiommu: no translation' };
  }
  const c = g.container === null ? undefined : tx.world.containers.get(g.container);
  const domain = c?.type1?.domain ?? null;
  // While vfio owns the group and no container domain is attached the group sits in the
  // blocking domain (iommu_group_claim_dma_owner): every DMA faults.
  if (c === undefined || domain === null || !domain.groups.includes(g.key)) {
    tx.emit('iommu.fault', { device: d.name, iova: hex(s.iova), reason: 'no domain' });
    return { dma: 'fault', decidedBy: 'blocking domain: the group is not attached to an IOMMU domain' };
  }
  const landings: DmaLanding[] = [];
  let at = s.iova;
  const end = s.iova + s.length;
  while (at < end) {
    // the PTE run containing `at`: the last one starting at or below it
    const cand = atOrBelow(domain.ptes, at);
    const pte = cand !== undefined && at < cand.iova + cand.size ? cand : undefined;
    const found = pte === undefined ? undefined : findDma(c!.type1!, pte.iova, 1n);
    const dma = found !== undefined && found.id === pte!.dma ? found : undefined;
    if (pte === undefined || (write && dma !== undefined && !dma.prot.write) || (!write && dma !== undefined && !dma.prot.read)) {
      tx.emit('iommu.fault', { device: d.name, iova: hex(at), reason: pte === undefined ? 'no PTE' : 'permission' });
      return { dma: 'fault', decidedBy: `IOMMU: ${pte === undefined ? 'no translation' : 'permission fault'} at ${hex(at)}` };
    }
    const chunkEnd = pte.iova + pte.size < end ? pte.iova + pte.size : end;
    const phys = pte.phys + (at - pte.iova);
    const size = chunkEnd - at;
    const ext = dma?.extents.find((e) => e.iova <= at && at < e.iova + e.size);
    if (ext !== undefined && ext.kind === 'mmio') {
      const target = deviceOf(tx.world, ext.device!);
      const owner = tx.world.processes.get(dma!.task);
      // The owner holds the BAR's device open through an fd or through a vma of it
      // (vma->vm_file keeps the device file, and so the device, open), or through a file whose
      // release is still pending: an exiting owner's fds are gone after exit_files, but the
      // device is closed only when the deferred ____fput runs (kernel/exit.c:do_exit,
      // fs/file_table.c:fput). A device open and used by nobody else is still the owner's.
      const uses = (p: Process): boolean =>
        [...p.fds.values()].some((id) => {
          const f = tx.world.files.get(id);
          return f?.kind === 'device' && f.device === target.name;
        }) || (tx.world.mms.get(p.mm)?.vmas ?? []).some((v) => v.kind === 'bar' && v.device === target.name);
      const holds =
        owner !== undefined &&
        (uses(owner) || (target.openCount > 0 && ![...tx.world.processes.values()].some((p) => p !== owner && p.state !== 'exited' && uses(p))));
      landings.push({ kind: 'mmio', phys, size, dma: pte.dma, device: target.name, bar: ext.bar!, decodeOn: target.memoryEnabled, present: target.state !== 'removed', ownerHoldsOpen: holds });
    } else {
      landings.push({ kind: 'ram', phys, size, dma: pte.dma, pinned: ext !== undefined && dma !== undefined && dma.state !== 'removed' });
    }
    at = chunkEnd;
  }
  tx.touched.landings.push(...landings);
  tx.emit('dma.translated', { device: d.name, iova: hex(s.iova), length: hex(s.length), write, phys: landings.map((l) => hex(l.phys)) });
  return { dma: 'ok', decidedBy: 'IOMMU: translated through the container domain' };
}
