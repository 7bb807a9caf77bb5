/**
 * VFIO_IOMMU_UNMAP_DMA (drivers/vfio/vfio_iommu_type1.c): vfio_iommu_type1_unmap_dma,
 * vfio_dma_do_unmap, vfio_notify_dma_unmap, vfio_remove_dma, vfio_unmap_unpin,
 * vfio_iommu_unmap_unpin_all, and the type1 MMU notifier's range invalidation.
 */
import type { StimulusOf } from '../../../vocab/records.js';
import { hex, isAligned, lowestBit, PAGE_SHIFT, U64_MAX, wraps } from '../../../log/u64.js';
import { deviceOf, mmOf } from '../../../core/lookup.js';
import { KernelOops, type Outcome, Tx } from '../../../core/tx.js';
import { above } from '../../../core/iova-tree.js';
import type { Container, Domain, VfioDma } from '../../../core/world.js';
import { mmDrop } from '../../mm/mm.js';
import { dmaKey, findDma, firstNode, markPins, pgsizeBitmap } from './dma-tree.js';
import { BITMAP_SZ, dmaArg, UNMAP_FIELDS, UNMAP_FLAGS, UNMAP_MINSZ } from './args.js';
import { accountLockedVm } from './accounting.js';
import { touchMap } from '../../mm/mmu_notifier.js';
import { assertHeld } from '../../../core/locks.js';
import { noteFree } from '../../../core/lifetimes.js';
import { lockOf } from '../../../vocab/locks.js';

/** UNMAP_DMA's arguments after the ioctl layer's checks. */
export interface UnmapArg {
  readonly all: boolean;
  readonly vaddr: boolean;
  readonly iova: bigint;
  readonly size: bigint;
}

/** vfio_iommu_type1_unmap_dma: the ioctl layer's checks, before iommu->lock. */
export function unmapValidate(tx: Tx, s: StimulusOf<'ioctl'>): UnmapArg {
  const a = dmaArg(s, UNMAP_FLAGS, UNMAP_FIELDS);
  const at = 'vfio_iommu_type1.c:vfio_iommu_type1_unmap_dma';
  const all = a.flags.has('ALL');
  const vaddr = a.flags.has('VADDR');
  const dirty = a.flags.has('GET_DIRTY_BITMAP');
  const argsz = s.argsz ?? (dirty ? UNMAP_MINSZ + BITMAP_SZ : UNMAP_MINSZ);
  if (argsz < UNMAP_MINSZ) tx.fail('EINVAL', `${at}: argsz < minsz`);
  if (dirty && (all || vaddr)) tx.fail('EINVAL', `${at}: GET_DIRTY_BITMAP with ALL or VADDR`);
  if (dirty) {
    if (argsz < UNMAP_MINSZ + BITMAP_SZ) tx.fail('EINVAL', `${at}: argsz < minsz + sizeof(struct vfio_bitmap)`);
    // The model's logs carry no bitmap: verify_bitmap_size(npages, bitmap.size == 0) fails.
    tx.fail('EINVAL', `${at}: verify_bitmap_size: no bitmap (the model does not track dirty pages)`);
  }
  return { all, vaddr, iova: a.iova, size: a.size };
}

/** What vfio_dma_do_unmap carries across `goto again` (and across its dropped iommu->lock). */
export interface UnmapWalk {
  unmapped: bigint;
  /** The dma the last dma_unmap notification was for, and how often in a row. */
  lastIova: bigint | null;
  retries: number;
}

/**
 * vfio_dma_do_unmap under iommu->lock: the checks (steps 1-4), then from `again:` the v2
 * bisection rule and the walk, until it is done or meets a dma with mdev pins, whose iova it
 * returns: the caller drops iommu->lock, notifies the mdev drivers, retakes it, and walks again.
 */
export function unmapWalk(tx: Tx, c: Container, a: UnmapArg, w: UnmapWalk): { done: Outcome } | { notify: bigint } {
  const t = c.type1!;
  const at = 'vfio_iommu_type1.c:vfio_dma_do_unmap';
  // ret = -EINVAL by default
  if (a.vaddr && t.emulatedGroups.length > 0) tx.fail('EBUSY', `${at}: VADDR with an emulated (mdev) group`);
  const pgsize = lowestBit(pgsizeBitmap(tx, t));
  if (!isAligned(a.iova, pgsize)) tx.fail('EINVAL', `${at}: iova & (pgsize-1)`);
  let size = a.size;
  if (a.all) {
    if (a.iova !== 0n || a.size !== 0n) tx.fail('EINVAL', `${at}: ALL with iova or size`);
    size = U64_MAX;
  } else {
    if (size === 0n || !isAligned(size, pgsize)) tx.fail('EINVAL', `${at}: !size or size & (pgsize-1)`);
    // v6.18 (VERSIONED_RULES 'type1-overflow'): check_add_overflow(iova, size - 1, &iova_end) ->
    // -EOVERFLOW; before, `iova + size - 1 < iova` in the same condition as the size checks -> -EINVAL.
    if (wraps(a.iova, size)) {
      if (tx.release.has('type1-overflow')) tx.fail('EOVERFLOW', `${at}: check_add_overflow(iova, size - 1)`);
      tx.fail('EINVAL', `${at}: iova + size - 1 < iova`);
    }
  }
  const end = a.all ? U64_MAX + 1n : a.iova + size;
  const invalidated: VfioDma[] = [];
  // 5. v2 bisection rule
  if (t.v2 && !a.all) {
    const first = findDma(t, a.iova, 1n);
    if (first !== undefined && first.iova !== a.iova) tx.fail('EINVAL', `${at}: v2: request starts inside a mapping`);
    const last = findDma(t, a.iova + size - 1n, 0n);
    if (last !== undefined && last.iova + last.size !== a.iova + size) tx.fail('EINVAL', `${at}: v2: request ends inside a mapping`);
  }
  // Before v6.18 (VERSIONED_RULES 'type1-addressable-limit'): a range that ends at 2^64 makes
  // iova + size wrap to 0, so vfio_find_dma_first_node's `dma_res->iova >= start + size` drops
  // every node: nothing is found, nothing unmapped, and the call returns 0.
  if (!a.all && a.iova + size === U64_MAX + 1n && !tx.release.has('type1-addressable-limit')) {
    return { done: { ret: 0n, out: { size: hex(w.unmapped) }, decidedBy: `${at}: vfio_find_dma_first_node: start + size wraps to 0, no node` } };
  }
  // 6. walk in iova order
  let dma = firstNode(t, a.iova);
  while (dma !== undefined && dma.iova < end) {
    const next = above(t.dmas, dma.iova);
    if (!t.v2 && a.iova > dma.iova) break; // v1: starts inside this mapping: success, nothing more
    if (a.vaddr) {
      if (dma.vaddrInvalid) {
        for (const d of invalidated) {
          d.vaddrInvalid = false;
          t.vaddrInvalidCount -= 1;
          tx.fire('vfio_dma', dmaKey(c, d), d, 'UPDATE_VADDR');
        }
        tx.fail('EINVAL', `${at}: VADDR: dma->vaddr_invalid already set (rolled back)`);
      }
      dma.vaddrInvalid = true;
      t.vaddrInvalidCount += 1;
      invalidated.push(dma);
      tx.fire('vfio_dma', dmaKey(c, dma), dma, 'INVALIDATE_VADDR');
      w.unmapped += dma.size;
      dma = next;
      continue;
    }
    if (dma.pfnList.size > 0) {
      if (dma.iova === w.lastIova) {
        w.retries += 1;
        if (w.retries > 10) throw new KernelOops(`${at}: BUG_ON(++retries > 10): the mdev driver did not unpin in dma_unmap`);
      } else {
        w.lastIova = dma.iova;
        w.retries = 0;
      }
      if (t.deviceList.length > 0) return { notify: dma.iova };
      continue; // vfio_notify_dma_unmap returns at once with no device: goto again
    }
    w.unmapped += dma.size;
    removeDma(tx, c, dma, 'REMOVE');
    dma = next;
  }
  return { done: { ret: 0n, out: { size: hex(w.unmapped) }, decidedBy: `${at}: unmapped ${hex(w.unmapped)}` } };
}

/**
 * vfio_notify_dma_unmap's callbacks, called with device_list_lock held and iommu->lock dropped:
 * `device->ops->dma_unmap(device, dma->iova, dma->size)` on every registered device
 * (drivers/vfio/vfio_iommu_type1.c). The caller read `dma->iova` and `dma->size` (after the
 * unlock, as the kernel does: src/paths/unmap-dma.ts checks that the dma is still alive).
 */
export function notifyDmaUnmap(tx: Tx, c: Container, dma: { readonly iova: bigint; readonly size: bigint }): void {
  tx.cascade('mdev.dma_unmap', { container: c.id, iova: hex(dma.iova), size: hex(dma.size) }, () => {
    for (const name of c.type1!.deviceList) tx.ops.dmaUnmap(tx, c, deviceOf(tx.world, name), dma.iova, dma.size); // device->ops->dma_unmap
  });
}

/**
 * vfio_remove_dma: WARN_ON(pfn_list), vfio_unmap_unpin (iommu_unmap in every domain, IOTLB
 * sync, then unpin and uncharge), unlink, put_task_struct, mmdrop, dma_avail++.
 */
export function removeDma(tx: Tx, c: Container, dma: VfioDma, event: 'REMOVE' | 'PIN_FAILED'): void {
  const t = c.type1!;
  const removedSize = dma.size;
  tx.cascade('dma.removed', { container: c.id, iova: hex(dma.iova), size: hex(removedSize) }, () => {
    if (dma.pfnList.size > 0) tx.kernelBug('vfio_iommu_type1.c:vfio_remove_dma: WARN_ON(!RB_EMPTY_ROOT(&dma->pfn_list))');
    tx.fire('vfio_dma', dmaKey(c, dma), dma, event);
    assertHeld(tx, lockOf.iommu(c.id), `the dma tree of container ${c.id} (vfio_unlink_dma)`); // every vfio_remove_dma caller holds iommu->lock (vfio_dma_do_unmap, vfio_pin_map_dma, detach_group's unmap_unpin_all)
    noteFree(tx, 'vfio_dma', dmaKey(c, dma), dma.id, 'vfio_iommu_type1.c:vfio_remove_dma: kfree(dma)');
    t.dmas.delete(dma.iova);
    // mmu_interval_notifier_remove of the pinless scheme's interval notifier, if any, and the
    // BAR links of vma-link / dma-buf schemes
    const mm = mmOf(tx.world, dma.mm);
    for (const d of tx.world.devices.values()) {
      if (d.linked.length > 0) d.linked = d.linked.filter((l) => !(l.container === c.id && l.iova === dma.iova));
    }
    const before = mm.intervals.length;
    mm.intervals = mm.intervals.filter((i) => !(i.container === c.id && i.dmaIova === dma.iova));
    // mm/mmu_notifier.c:mmu_interval_notifier_remove: lock_map_acquire/release of the
    // invalidate_range_start map before it may wait (docs/concurrency.md: it does not wait here)
    if (mm.intervals.length < before && tx.task !== null) touchMap(tx, tx.task, 'mmu_interval_notifier_remove');
    if (dma.vaddrInvalid) t.vaddrInvalidCount -= 1;
    mmDrop(tx, mm);
    t.dmaAvail += 1;
    markPins(tx, c, dma);
  });
  tx.touched.containers.add(c.id);
}

/**
 * vfio_unmap_unpin: unmap the range from the domain, sync the IOTLB, then unpin: "pages are
 * unpinned only after the IOTLB flush". With do_accounting, uncharge dma->mm.
 */
export function unmapUnpin(tx: Tx, c: Container, dma: VfioDma, doAccounting: boolean): void {
  const domain = c.type1!.domain;
  if (domain !== null && dma.extents.length > 0) {
    removePtes(domain, dma);
    tx.emit('iommu.unmapped', { container: c.id, iova: hex(dma.iova), size: hex(dma.size) });
    tx.emit('iotlb.sync', { container: c.id });
  }
  const ram = dma.extents.filter((e) => e.kind === 'ram');
  if (ram.length > 0) {
    const npages = ram.reduce((n, e) => n + Number(e.size >> PAGE_SHIFT), 0);
    tx.emit('pages.unpinned', { container: c.id, iova: hex(dma.iova), npages });
  }
  dma.extents = [];
  dma.iommuMapped = false;
  markPins(tx, c, dma);
  if (doAccounting && dma.lockedVm !== 0) accountLockedVm(tx, mmOf(tx.world, dma.mm), dma, -dma.lockedVm);
}

/** Removes a dma's PTE runs: they are contiguous in iova order, from the dma's iova. */
function removePtes(d: Domain, dma: VfioDma): void {
  let pte = d.ptes.get(dma.iova);
  while (pte !== undefined && pte.dma === dma.id) {
    d.ptes.delete(pte.iova);
    pte = above(d.ptes, pte.iova);
  }
}

/** vfio_iommu_unmap_unpin_all: remove every vfio_dma. */
export function unmapUnpinAll(tx: Tx, c: Container): void {
  const t = c.type1!;
  // lowest first, as the kernel walks rb_first()
  for (let k = t.dmas.minKey(); k !== undefined; k = t.dmas.minKey()) removeDma(tx, c, t.dmas.get(k)!, 'REMOVE');
}

/**
 * The callback of a type1 MMU notifier (schemes with `type1Notifier`): the IOMMU mappings and
 * pins of every dma of `mm` whose user range meets [start, end) are torn down (unmap, IOTLB
 * sync, unpin, uncharge); the vfio_dma stays for the user to UNMAP. The caller holds mmap_lock,
 * so uncharging needs no lock of its own.
 */
export function invalidateUserRange(tx: Tx, c: Container, mm: number, start: bigint, end: bigint): void {
  for (const dma of c.type1!.dmas.valuesArray()) {
    if (dma.mm !== mm || !dma.iommuMapped || dma.vaddr >= end || start >= dma.vaddr + dma.size) continue;
    assertHeld(tx, lockOf.iommu(c.id), `vfio_dma ${dmaKey(c, dma)}'s mapping and pins (vfio_unmap_unpin)`); // type1 unmaps and unpins a dma only under iommu->lock (vfio_remove_dma's callers, detach_group)
    tx.cascade('dma.invalidated', { container: c.id, iova: hex(dma.iova), size: hex(dma.size) }, () => unmapUnpin(tx, c, dma, true));
  }
}
