/**
 * drivers/vfio/vfio_iommu_type1.c: vfio_iommu_type1_open, _attach_group (vfio_iommu_aper_conflict,
 * _resv_conflict, _resv_exclude, vfio_iommu_replay), _detach_group (with _unmap_unpin_reaccount)
 * and _release. The model keeps one IOMMU domain per container (docs/model.md says why).
 */
import { hex } from '../../../log/u64.js';
import { mmOf } from '../../../core/lookup.js';
import { Tx } from '../../../core/tx.js';
import { iovaTree } from '../../../core/iova-tree.js';
import { newId, type Container, type Domain, type Group, type Type1 } from '../../../core/world.js';
import { DMA_ENTRY_LIMIT, markPins } from './dma-tree.js';
import { accountLockedVm } from './accounting.js';
import { pinMapDma } from './map.js';
import { unmapUnpin, unmapUnpinAll } from './unmap.js';
import type { Policy } from '../../../schemes/policies/index.js';
import { assertHeld } from '../../../core/locks.js';
import { lockOf, writeLock, type LockUse } from '../../../vocab/locks.js';

/**
 * vfio_iommu_type1_open: v1 for VFIO_TYPE1_IOMMU, v2 for VFIO_TYPE1v2_IOMMU. Before v6.0 the
 * vfio_iommu has a blocking notifier head (BLOCKING_INIT_NOTIFIER_HEAD(&iommu->notifier)), not
 * device_list and device_list_lock.
 */
export function open(v2: boolean, notifierChain: boolean): Type1 {
  return { v2, dmas: iovaTree(), dmaAvail: DMA_ENTRY_LIMIT, domain: null, emulatedGroups: [], deviceList: [], vaddrInvalidCount: 0, notifierChain };
}

// ---------------------------------------------------------------------------------------------
// attach, detach, release

/** vfio_iommu_type1_attach_group, under iommu->lock. */
export function attachGroup(tx: Tx, c: Container, g: Group): void {
  const t = c.type1!;
  const at = 'vfio_iommu_type1.c:vfio_iommu_type1_attach_group';
  assertHeld(tx, lockOf.iommu(c.id), `container ${c.id}'s IOMMU groups and domain (attach_group)`); // vfio_iommu_type1_attach_group: mutex_lock(&iommu->lock) first
  if (t.vaddrInvalidCount > 0) tx.fail('EBUSY', `${at}: vaddr_invalid_count`);
  if (t.emulatedGroups.includes(g.key) || t.domain?.groups.includes(g.key)) tx.fail('EINVAL', `${at}: group already attached`);
  if (g.emulated) {
    t.emulatedGroups.push(g.key);
    tx.emit('iommu.group_attached', { container: c.id, group: g.key, domain: null });
    return;
  }
  if (g.noiommu) return; // vfio-noiommu has no attach_group work
  const host = tx.world.iommu;
  const [aStart, aEnd] = host.aperture;
  // vfio_iommu_aper_conflict: existing dmas outside the new aperture
  const dmas = t.dmas.valuesArray();
  if (dmas.some((d) => d.iova < aStart || d.iova + d.size - 1n > aEnd)) tx.fail('EINVAL', `${at}: vfio_iommu_aper_conflict`);
  // vfio_iommu_resv_conflict: an existing dma overlaps a reserved region. Under the 2016 RFC's
  // user-registered MSI window, type1 neither reports nor excludes reserved regions (pre-v5.4).
  const resv = tx.policy.msiWindow.excludesReservedRegions ? host.resv : [];
  if (dmas.some((d) => resv.some((r) => d.iova <= r.end && r.start <= d.iova + d.size - 1n))) tx.fail('EINVAL', `${at}: vfio_iommu_resv_conflict`);
  // vfio_iommu_aper_resize + vfio_iommu_resv_exclude
  const iovaList = excludeResv([[aStart, aEnd]], resv.map((r) => [r.start, r.end] as const));
  if (iovaList.length === 0) tx.fail('EINVAL', `${at}: vfio_iommu_resv_exclude left no valid IOVA`);
  // Interrupt remapping: the model's host isolates MSIs (iommu_group_has_isolated_msi).
  if (t.domain !== null) {
    // Same ops and coherency: the group joins the existing domain; no replay needed.
    t.domain.groups.push(g.key);
    tx.emit('iommu.group_attached', { container: c.id, group: g.key, domain: t.domain.id });
    return;
  }
  const domain: Domain = { id: newId(tx.world), groups: [g.key], ptes: iovaTree(), iovaList };
  t.domain = domain;
  try {
    replay(tx, c);
  } catch (e) {
    t.domain = null;
    throw e;
  }
  for (const dma of t.dmas.valuesArray()) markPins(tx, c, dma);
  tx.emit('iommu.group_attached', { container: c.id, group: g.key, domain: domain.id, iova_ranges: iovaList.map(([s, e]) => [hex(s), hex(e)]) });
}

/** Removes [start, end] ranges from a list of windows (vfio_iommu_resv_exclude). */
function excludeResv(list: Array<readonly [bigint, bigint]>, resv: Array<readonly [bigint, bigint]>): Array<readonly [bigint, bigint]> {
  let out = list;
  for (const [rs, re] of resv) {
    const next: Array<readonly [bigint, bigint]> = [];
    for (const [s, e] of out) {
      if (re < s || rs > e) next.push([s, e]);
      else {
        if (rs > s) next.push([s, rs - 1n]);
        if (re < e) next.push([re + 1n, e]);
      }
    }
    out = next;
  }
  return out;
}

/**
 * vfio_iommu_replay: map every existing vfio_dma into the new domain; dmas never pinned
 * (mdev-only containers) are pinned now, charged to their own mm.
 */
function replay(tx: Tx, c: Container): void {
  const t = c.type1!;
  for (const dma of t.dmas.valuesArray()) {
    if (dma.iommuMapped) continue;
    const owner = tx.world.processes.get(dma.task);
    const mm = mmOf(tx.world, dma.mm);
    if (owner === undefined || mm.state !== 'live') tx.fail('EFAULT', 'vfio_iommu_type1.c:vfio_iommu_replay: the mapping mm is gone');
    const size = dma.size;
    dma.size = 0n;
    try {
      pinMapDma(tx, owner, c, dma, mm, size);
    } finally {
      dma.size = size;
    }
  }
}

/** vfio_iommu_type1_detach_group. */
export function detachGroup(tx: Tx, c: Container, g: Group): void {
  const t = c.type1!;
  assertHeld(tx, lockOf.iommu(c.id), `container ${c.id}'s IOMMU groups and domain (detach_group)`); // vfio_iommu_type1_detach_group: mutex_lock(&iommu->lock) first
  if (g.emulated) {
    t.emulatedGroups = t.emulatedGroups.filter((k) => k !== g.key);
    if (t.emulatedGroups.length === 0 && t.domain === null) {
      if (t.deviceList.length > 0) tx.kernelBug('vfio_iommu_type1.c:vfio_iommu_type1_detach_group: WARN_ON(!list_empty(&iommu->device_list))');
      unmapUnpinAll(tx, c);
    }
    return;
  }
  const d = t.domain;
  if (d === null || !d.groups.includes(g.key)) return;
  d.groups = d.groups.filter((k) => k !== g.key);
  if (d.groups.length > 0) return;
  if (t.emulatedGroups.length === 0) {
    unmapUnpinAll(tx, c);
  } else {
    // vfio_iommu_unmap_unpin_reaccount: unmap and unpin, keep the dmas for mdev pinning,
    // re-charge the pages still in pfn_lists.
    for (const dma of t.dmas.valuesArray()) {
      unmapUnpin(tx, c, dma, true);
      if (dma.pfnList.size > 0) accountLockedVm(tx, mmOf(tx.world, dma.mm), dma, dma.pfnList.size);
    }
  }
  t.domain = null;
  for (const dma of t.dmas.valuesArray()) markPins(tx, c, dma);
  tx.emit('iommu.domain_freed', { container: c.id, domain: d.id });
}

/** vfio_iommu_type1_release: unmap and unpin everything, free the domains. */
export function release(tx: Tx, c: Container): void {
  const t = c.type1!;
  t.emulatedGroups = [];
  unmapUnpinAll(tx, c);
  if (t.domain !== null) tx.emit('iommu.domain_freed', { container: c.id, domain: t.domain.id });
  t.domain = null;
  tx.emit('iommu.released', { container: c.id });
}

/**
 * The locks under which type1 adds an mdev to, or removes it from, iommu->device_list:
 * vfio_iommu_type1_register_device / _unregister_device take iommu->lock, then
 * device_list_lock (docs/kernel-notes.md item 2). Under the proposed fix of
 * docs/findings/mdev-device-list-lock-inversion.md they take device_list_lock alone (the notify
 * reads the list under device_list_lock once it has dropped iommu->lock). Before v6.0 the mdev
 * vendor registers a notifier block on the chain instead (vfio_register_notifier).
 */
export function deviceListLocks(c: Container, policy: Policy): LockUse[] {
  // before v6.0: vfio_iommu_type1_register_notifier / _unregister_notifier ->
  // blocking_notifier_chain_register / _unregister: down_write(&nh->rwsem) alone, no iommu->lock
  if (c.type1?.notifierChain === true) return [writeLock(lockOf.notifier(c.id))];
  return policy.mdevNotify.dropsIommuLockFirst ? [writeLock(lockOf.deviceList(c.id))] : [writeLock(lockOf.iommu(c.id)), writeLock(lockOf.deviceList(c.id))];
}

/** The device_list change of vfio_iommu_type1_register_device / _unregister_device, under its locks. */
export function assertDeviceListLocked(tx: Tx, c: Container): void {
  for (const l of deviceListLocks(c, tx.policy)) assertHeld(tx, l.lock, `container ${c.id}'s device_list`);
}
