/**
 * The steps of the MAP_DMA path (machines/paths/map-dma.machine.ts): each takes the locks the
 * kernel holds around that part of vfio_dma_do_map and calls the type1 rule for it
 * (src/kernel/vfio/type1/map.ts), whose own comments cite the kernel's lines.
 */
import { hex } from '../log/u64.js';
import { acquire, allocate, assertHeld, locked, release } from '../core/locks.js';
import { containerOf, mmOf, processOf } from '../core/lookup.js';
import { type1Target } from '../kernel/vfio/fops.js';
import { dmaAt, dmaKey, findDma } from '../kernel/vfio/type1/dma-tree.js';
import { forget, keep, type KeepsRefs, useKept } from '../core/lifetimes.js';
import { chargePins, type MapArg, mapLink, mapRuns, mapValidate, type PinnedRuns, pinRuns } from '../kernel/vfio/type1/map.js';
import { removeDma } from '../kernel/vfio/type1/unmap.js';
import type { Tx } from '../core/tx.js';
import type { IntervalSub, Mm, Task, VfioDma, World } from '../core/world.js';
import { hasNotifiers, touchMap } from '../kernel/mm/mmu_notifier.js';
import { runEntry } from './atomic.js';
import type { CallbackLocals } from './callbacks.js';
import { definePath, type PathLocals, type Running } from './types.js';
import { lockOf, readLock, writeLock, type LockUse } from '../vocab/locks.js';
import { barPagesMissing } from '../kernel/mm/mmap.js';

interface MapCtx extends PathLocals, KeepsRefs {
  container: number;
  pid: number;
  mm: number;
  arg: MapArg;
  dmaIova: bigint;
  pinned: PinnedRuns;
  /** mmu_interval_read_begin's sequence (pfnmap 'interval'). */
  seq: number;
}

type Rp = Running<MapCtx, 'ioctl'>;

/**
 * The dma this call linked: vfio_dma_do_map keeps its pointer from vfio_link_dma to its return,
 * all under iommu->lock, so no other path can free it. Checked at each use (KernelUseAfterFree);
 * null if it was freed all the same, and the call then ends (the kernel would go on with freed
 * memory, which the model cannot follow).
 */
function linkedDma(tx: Tx, task: Task, rp: Rp, what: string): VfioDma | null {
  const dma = dmaAt(containerOf(tx.world, rp.ctx.container).type1!, rp.ctx.dmaIova);
  if (useKept(tx, task, 'dma', dma, what)) return dma!;
  forget(task, 'dma');
  rp.ctx.outcome ??= { errno: 'EFAULT', decidedBy: `KernelUseAfterFree: ${what} on a freed vfio_dma; the model ends the call here` };
  return null;
}

/** The dma vfio_iommu_map maps; when it was freed meanwhile, the call ends, releasing iommu->lock. */
function dmaToMap(tx: Tx, task: Task, rp: Rp): VfioDma | null {
  const dma = linkedDma(tx, task, rp, 'vfio_iommu_map(iommu, dma->iova, ...)');
  if (dma === null) release(tx, task, lockOf.iommu(rp.ctx.container));
  return dma;
}

/** Runs `fn`; a kernel error becomes the outcome and `onError` the event. */
function attempt<A extends string, B extends string>(tx: Tx, rp: Rp, onError: B, fn: () => A): A | B {
  const r = tx.attempt(fn);
  if ('value' in r) return r.value;
  rp.ctx.outcome = r.outcome;
  return onError;
}

/**
 * A VADDR update by another process moves the dma's charge (vfio_change_dma_owner): mm_lock_acct
 * takes mmap_write_lock_killable of the new mm, then of the old one if it is alive, under
 * iommu->lock.
 */
function changeOwnerLocks(w: World, ctx: MapCtx): LockUse[] {
  const t = w.containers.get(ctx.container)?.type1;
  const dma = t == null || !ctx.arg.vaddrFlag ? undefined : findDma(t, ctx.arg.iova, ctx.arg.size);
  if (dma === undefined || !dma.vaddrInvalid || dma.mm === ctx.mm || dma.lockedVm === 0) return [];
  const mms = w.mms.get(dma.mm)?.state === 'live' ? [ctx.mm, dma.mm] : [ctx.mm];
  return mms.sort((a, b) => a - b).map((mm) => writeLock(lockOf.mmap(mm)));
}

/** Whether [vaddr, vaddr+size) is covered by BAR (PFNMAP) vmas only. */
function allBar(w: World, mm: number, vaddr: bigint, size: bigint): boolean {
  let at = vaddr;
  for (const v of mmOf(w, mm).vmas) {
    if (v.end <= at || v.start > at) continue;
    if (v.kind !== 'bar') return false;
    at = v.end;
    if (at >= vaddr + size) return true;
  }
  return false;
}

function intervalOf(w: World, ctx: MapCtx): IntervalSub | undefined {
  return mmOf(w, ctx.mm).intervals.find((i) => i.container === ctx.container && i.dmaIova === ctx.dmaIova);
}

/**
 * The tasks with an invalidation of `mm` in flight (invalidate_range_start done, _end not yet;
 * or exit_mmap's mn_itree_release): those an mmu_interval_read_begin waits for.
 */
function invalidating(w: World, mm: number): string[] {
  const out: string[] = [];
  for (const t of w.tasks.values()) {
    const c = t.current?.ctx as Partial<CallbackLocals> | undefined;
    if (c?.inflight?.includes(mm) === true) out.push(t.name);
  }
  return out;
}

function hasMmio(ctx: MapCtx): boolean {
  return ctx.pinned.runs.some((r) => r.kind === 'mmio');
}

/** The reservation lock of the dma-buf behind a mapping (as the revoke takes it). */
function resvLock(ctx: MapCtx): string {
  return lockOf.dmaResv(ctx.container, ctx.dmaIova);
}

/** The devices whose BAR vmas the range would fault in (their memory_lock is taken for read). */
function barsToFault(w: World, mm: number, vaddr: bigint, size: bigint): string[] {
  const out = new Set<string>();
  for (const v of mmOf(w, mm).vmas) {
    if (v.kind !== 'bar' || v.start >= vaddr + size || vaddr >= v.end) continue;
    // the pages of the range this vma lacks (before v6.12 a populated vma lacks none)
    if (barPagesMissing(v, vaddr > v.start ? vaddr : v.start, vaddr + size < v.end ? vaddr + size : v.end).length > 0) out.add(v.device!);
  }
  return [...out];
}

/**
 * vaddr_get_pfns (or hmm_range_fault) under mmap_read_lock: pin the RAM and follow the BAR
 * pfns, faulting BAR vmas in under their device's memory_lock (read). The pinned runs go to the
 * path's context; a failure is the outcome and FAILED.
 */
function pinUnderMmapLock<E extends string>(tx: Tx, task: Task, rp: Rp, where: string, okEvent: E): E | 'FAILED' {
  const ctx = rp.ctx;
  const dma = linkedDma(tx, task, rp, 'vfio_pin_pages_remote(dma, ...)');
  if (dma === null) return 'FAILED';
  return locked(tx, task, lockOf.mmap(ctx.mm), 'read', where, () => {
    const bars = barsToFault(tx.world, ctx.mm, ctx.arg.vaddr, ctx.arg.size);
    for (const d of bars) acquire(tx, task, lockOf.memory(d), 'read', `${where} (vfio_pci_mmap_huge_fault)`);
    try {
      return attempt(tx, rp, 'FAILED', () => {
        ctx.pinned = pinRuns(tx, processOf(tx.world, ctx.pid), dma, mmOf(tx.world, ctx.mm), ctx.arg.size);
        return okEvent;
      });
    } finally {
      for (const d of bars.reverse()) release(tx, task, lockOf.memory(d));
    }
  });
}

/**
 * A registration on the mm's notifier subscriptions under mmap_write_lock
 * (mm/mmu_notifier.c:mmu_notifier_register, mmu_interval_notifier_insert): the first one's
 * __mmu_notifier_register kzallocs mm->notifier_subscriptions (GFP_KERNEL), and that
 * allocation's fs_reclaim_acquire primes fs_reclaim -> mmu_notifier_invalidate_range_start
 * (mm/page_alloc.c; __mmu_notifier_register primes nothing itself since v5.11, f920e413ff9c).
 */
function registering(tx: Tx, task: Task, ctx: MapCtx, where: string, step: string, fn: (mm: Mm) => void): void {
  locked(tx, task, lockOf.mmap(ctx.mm), 'write', where, () => {
    const mm = mmOf(tx.world, ctx.mm);
    if (!hasNotifiers(mm)) allocate(tx, task, `${step} (__mmu_notifier_register: kzalloc GFP_KERNEL)`);
    fn(mm);
  });
}

export const mapDma = definePath<MapCtx, 'ioctl'>()('map_dma', {
  validate: {
    mirrors: "drivers/vfio/vfio_iommu_type1.c:vfio_iommu_type1_map_dma (argsz, flags) and vfio_dma_do_map's checks before iommu->lock",
    run(tx, _task, rp) {
      const s = rp.stimulus;
      const target = type1Target(tx, s);
      if (target === null) {
        // The ioctl never reaches type1: vfio_fops_unl_ioctl or the fd decides.
        rp.ctx.outcome = runEntry(tx, s);
        return 'RETURN';
      }
      return attempt(tx, rp, 'RETURN', () => {
        const ctx = rp.ctx;
        ctx.arg = mapValidate(tx, s);
        ctx.container = target.c.id;
        ctx.pid = target.p.pid;
        ctx.mm = target.p.mm;
        return 'VALID';
      });
    },
  },
  lock: {
    mirrors: 'drivers/vfio/vfio_iommu_type1.c:vfio_dma_do_map (mutex_lock(iommu->lock), the checks, vfio_link_dma)',
    requires: (w, _t, rp) => [writeLock(lockOf.iommu(rp.ctx.container)), ...changeOwnerLocks(w, rp.ctx)],
    run(tx, task, rp) {
      const ctx = rp.ctx;
      acquire(tx, task, lockOf.iommu(ctx.container), 'write', 'map_dma.lock');
      const owners = changeOwnerLocks(tx.world, ctx);
      for (const l of owners) acquire(tx, task, l.lock, l.mode, 'map_dma.lock (vfio_change_dma_owner -> mm_lock_acct)');
      const c = containerOf(tx.world, ctx.container);
      const ev = attempt(tx, rp, 'RETURN', (): 'RETURN' | 'INSERT' | 'REGISTER' | 'LINKED' => {
        const r = mapLink(tx, processOf(tx.world, ctx.pid), c, ctx.arg);
        if ('done' in r) {
          ctx.outcome = r.done;
          return 'RETURN';
        }
        ctx.dmaIova = r.dma.iova;
        keep(task, 'dma', 'vfio_dma', dmaKey(c, r.dma), r.dma.id);
        const mm = mmOf(tx.world, ctx.mm);
        if (tx.policy.pfnmap.intervalNotifier && allBar(tx.world, ctx.mm, ctx.arg.vaddr, ctx.arg.size)) return 'INSERT';
        return tx.policy.type1Notifier.registers && !mm.type1Notifiers.includes(c.id) ? 'REGISTER' : 'LINKED';
      });
      for (const l of owners.reverse()) release(tx, task, l.lock);
      if (ev === 'RETURN') release(tx, task, lockOf.iommu(ctx.container));
      return ev;
    },
  },
  register: {
    mirrors: "mm/mmu_notifier.c:mmu_notifier_register (a scheme's type1 notifier, under mmap_write_lock)",
    requires: (_w, _t, rp) => [writeLock(lockOf.mmap(rp.ctx.mm))],
    run(tx, task, rp) {
      const ctx = rp.ctx;
      registering(tx, task, ctx, 'map_dma.register', 'map_dma.register', (mm) => {
        assertHeld(tx, lockOf.mmap(ctx.mm), `mm ${ctx.mm}'s notifier subscriptions`, 'write'); // mm/mmu_notifier.c:__mmu_notifier_register: mmap_assert_write_locked(mm)
        mm.type1Notifiers.push(ctx.container);
      });
      tx.emit('mmu_notifier.registered', { mm: ctx.mm, container: ctx.container });
      return 'REGISTERED';
    },
  },
  pin: {
    mirrors: 'drivers/vfio/vfio_iommu_type1.c:vfio_pin_pages_remote -> vaddr_get_pfns (mmap_read_lock; follow_fault_pfn for a BAR)',
    requires: (w, _t, rp) => {
      const ctx = rp.ctx;
      return [
        { lock: lockOf.mmap(ctx.mm), mode: 'read' },
        ...barsToFault(w, ctx.mm, ctx.arg.vaddr, ctx.arg.size).map((d) => readLock(lockOf.memory(d))),
      ];
    },
    run: (tx, task, rp) => pinUnderMmapLock(tx, task, rp, 'map_dma.pin', 'PINNED'),
  },
  account: {
    mirrors: 'drivers/vfio/vfio_iommu_type1.c:vfio_lock_acct -> mm_lock_acct (mmap_write_lock_killable)',
    requires: (w, _t, rp) => {
      const ctx = rp.ctx;
      return ctx.pinned.charge > 0 && mmOf(w, ctx.mm).state === 'live' ? [{ lock: lockOf.mmap(ctx.mm), mode: 'write' }] : [];
    },
    run(tx, task, rp) {
      // vfio_lock_acct -> mm_lock_acct: mmap_write_lock_killable(mm) around the charge.
      const ctx = rp.ctx;
      const mm = mmOf(tx.world, ctx.mm);
      const dma = linkedDma(tx, task, rp, 'vfio_lock_acct(dma, ...)');
      if (dma === null) return 'ACCOUNTED';
      if (ctx.pinned.charge > 0 && mm.state === 'live') locked(tx, task, lockOf.mmap(ctx.mm), 'write', 'map_dma.account', () => chargePins(tx, mm, dma, ctx.pinned));
      else chargePins(tx, mm, dma, ctx.pinned);
      return 'ACCOUNTED';
    },
  },
  map: {
    mirrors: 'drivers/vfio/vfio_iommu_type1.c:vfio_iommu_map -> iommu_map (GFP_KERNEL_ACCOUNT), mutex_unlock(iommu->lock)',
    requires: (_w, _t, rp, policy) => (policy.pfnmap.dmabuf && hasMmio(rp.ctx) ? [{ lock: resvLock(rp.ctx), mode: 'write' }] : []),
    run(tx, task, rp) {
      // vfio_iommu_map: iommu_map(..., GFP_KERNEL_ACCOUNT) under iommu->lock.
      const ctx = rp.ctx;
      const dma = dmaToMap(tx, task, rp);
      if (dma === null) return 'RETURN';
      if (tx.policy.pfnmap.dmabuf && hasMmio(ctx)) {
        // The importer maps under the buffer's reservation lock and checks `revoked` there
        // (vfio_pci_dma_buf_iommufd_map), so a revoke cannot slip between check and map.
        const revoked = ctx.pinned.runs.some((r) => {
          const d = tx.world.devices.get(r.device!);
          return r.kind === 'mmio' && (d?.memoryEnabled !== true || d.revoked);
        });
        if (revoked) {
          locked(tx, task, resvLock(ctx), 'write', 'map_dma.map (dma_resv_lock)', () => undefined);
          ctx.outcome = { errno: 'ENODEV', decidedBy: 'vfio_pci_dmabuf.c:vfio_pci_dma_buf_iommufd_map: the dma-buf is revoked' };
          return 'FAILED';
        }
        acquire(tx, task, resvLock(ctx), 'write', 'map_dma.map (dma_resv_lock)');
      }
      allocate(tx, task, 'map_dma.map (iommu_map GFP_KERNEL_ACCOUNT)');
      mapRuns(tx, containerOf(tx.world, ctx.container), dma, ctx.pinned, ctx.arg.size);
      if (tx.policy.pfnmap.dmabuf && hasMmio(ctx)) release(tx, task, resvLock(ctx));
      release(tx, task, lockOf.iommu(ctx.container));
      ctx.outcome = { ret: 0n, decidedBy: 'vfio_iommu_type1.c:vfio_dma_do_map: mapped' };
      return 'RETURN';
    },
  },
  insert: {
    mirrors: "mm/mmu_notifier.c:mmu_interval_notifier_insert (pfnmap 'interval')",
    requires: (_w, _t, rp) => [writeLock(lockOf.mmap(rp.ctx.mm))],
    run(tx, task, rp) {
      // mmu_interval_notifier_insert (registering the itree subscription under mmap_lock)
      const ctx = rp.ctx;
      registering(tx, task, ctx, 'map_dma.insert (mmu_interval_notifier_insert)', 'map_dma.insert', (mm) => {
        let seq: number;
        if (mm.itreeActive > 0) {
          mm.itreeSeq |= 1;
          seq = mm.itreeSeq;
        } else seq = mm.itreeSeq - 1;
        mm.intervals.push({ container: ctx.container, dmaIova: ctx.dmaIova, start: ctx.arg.vaddr, end: ctx.arg.vaddr + ctx.arg.size, seq });
      });
      tx.emit('mmu_interval_notifier.inserted', { mm: ctx.mm, container: ctx.container, iova: hex(ctx.dmaIova) });
      return 'BEGIN';
    },
  },
  begin: {
    mirrors: 'mm/mmu_notifier.c:mmu_interval_read_begin (waits while an overlapping invalidation runs)',
    requires: (w, _t, rp) => {
      const ctx = rp.ctx;
      const sub = intervalOf(w, ctx);
      const ready = sub === undefined || sub.seq !== mmOf(w, ctx.mm).itreeSeq;
      return [{ wait: `an invalidation of mm ${ctx.mm} overlapping the interval (mmu_interval_read_begin)`, ready, on: ready ? [] : invalidating(w, ctx.mm) }];
    },
    run(tx, task, rp) {
      const ctx = rp.ctx;
      ctx.seq = intervalOf(tx.world, ctx)!.seq;
      // mm/mmu_notifier.c:mmu_interval_read_begin: lock_map_acquire/lock_map_release of the
      // invalidate_range_start map before it may wait (iommu->lock is held: iommu.lock -> map)
      touchMap(tx, task, 'map_dma.begin (mmu_interval_read_begin)');
      return 'FAULT';
    },
  },
  fault: {
    mirrors: 'mm/hmm.c:hmm_range_fault under mmap_read_lock (vfio_pci_mmap_huge_fault takes memory_lock)',
    requires: (w, _t, rp) => {
      const ctx = rp.ctx;
      return [readLock(lockOf.mmap(ctx.mm)), ...barsToFault(w, ctx.mm, ctx.arg.vaddr, ctx.arg.size).map((d) => readLock(lockOf.memory(d)))];
    },
    // hmm_range_fault under mmap_read_lock: the BAR's pfns, faulted in; nothing pinned.
    run: (tx, task, rp) => pinUnderMmapLock(tx, task, rp, 'map_dma.fault (hmm_range_fault)', 'PROGRAM'),
  },
  program: {
    mirrors: 'Documentation/mm/hmm.rst: driver->update lock, mmu_interval_read_retry, then iommu_map',
    requires: (_w, _t, rp) => [{ lock: lockOf.update(rp.ctx.container), mode: 'write' }],
    run(tx, task, rp) {
      const ctx = rp.ctx;
      const dma = dmaToMap(tx, task, rp);
      if (dma === null) return 'RETURN';
      const lock = lockOf.update(ctx.container);
      acquire(tx, task, lock, 'write', 'map_dma.program (driver->update)');
      // mmu_interval_read_retry, under the update lock
      if (intervalOf(tx.world, ctx)!.seq !== ctx.seq) {
        release(tx, task, lock);
        tx.emit('mmu_interval_notifier.retry', { container: ctx.container, iova: hex(ctx.dmaIova) });
        return 'RETRY';
      }
      mapRuns(tx, containerOf(tx.world, ctx.container), dma, ctx.pinned, ctx.arg.size);
      release(tx, task, lock);
      release(tx, task, lockOf.iommu(ctx.container));
      ctx.outcome = { ret: 0n, decidedBy: 'vfio_iommu_type1.c:vfio_dma_do_map: mapped through an interval notifier (Documentation/mm/hmm.rst)' };
      return 'RETURN';
    },
  },
  unwind: {
    mirrors: 'drivers/vfio/vfio_iommu_type1.c:vfio_pin_map_dma error path -> vfio_remove_dma, mutex_unlock(iommu->lock)',
    run(tx, task, rp) {
      // vfio_pin_map_dma: on error vfio_remove_dma: no partial mapping survives.
      const ctx = rp.ctx;
      const dma = linkedDma(tx, task, rp, 'vfio_remove_dma(iommu, dma)');
      if (dma !== null) removeDma(tx, containerOf(tx.world, ctx.container), dma, 'PIN_FAILED');
      release(tx, task, lockOf.iommu(ctx.container));
      tx.emit('map_dma.unwound', { container: ctx.container, iova: hex(ctx.dmaIova) });
      return 'RETURN';
    },
  },
});
