/**
 * The safety properties of SPEC 2 that one history can show, checked after every record.
 * Each is a named predicate with its gloss and the kernel rule it stands for. Checks look only
 * at what the record touched (Touched), so a record's check costs O(what it changed).
 *
 * The checks judge from world facts the engine does not use to decide outcomes (page-table
 * extents, pins, device decode state), so a rule that forgets a step shows up here.
 */
import { hex, PAGE_SHIFT } from '../log/u64.js';
import type { Touched } from '../core/tx.js';
import type { VfioDma, World } from '../core/world.js';
import { above, below } from '../core/iova-tree.js';
import { describeCycle, LockGraph } from './lockdep.js';

export const PROPERTY_NAMES = [
  'NoOverlap',
  'NoDmaUseAfterFree',
  'NoDmaToDisabledMmio',
  'IsolationBreach',
  'LockedVmConserved',
  'PasidNotReusedWhileLive',
  'FaultsAnswered',
  'MsiWindowIntact',
  'NoDeadlock',
  'TeardownCompletes',
  'LockOrder',
  'NoBlockInNonBlockable',
  'KernelBug',
] as const;

export type PropertyName = (typeof PROPERTY_NAMES)[number];

export const GLOSS: Record<PropertyName, string> = {
  NoOverlap: 'the live vfio_dma ranges of one container never overlap (vfio_dma_do_map: EEXIST)',
  NoDmaUseAfterFree: 'every translated device DMA lands on RAM still pinned for that mapping (unpin after IOTLB sync)',
  NoDmaToDisabledMmio: 'no translated DMA lands on a BAR whose decode is off, whose device is gone, or that the mapping owner no longer holds open',
  IsolationBreach: 'a device reached memory no mapping granted (noiommu)',
  LockedVmConserved: "each live mm's locked_vm equals the non-reserved pages pinned and charged to it",
  PasidNotReusedWhileLive: 'a PASID is never given to a new address space while a device may still use it or has requests pending',
  FaultsAnswered: 'every page request gets exactly one response, and none is left at teardown',
  MsiWindowIntact: 'the MSI window is never mapped over or unmapped by user DMA mappings',
  NoDeadlock: 'no reachable state in which a task waits forever',
  TeardownCompletes: 'once every process has exited and every device is unbound, nothing is left',
  LockOrder: 'the lock-class dependency graph over all explored steps has no cycle',
  NoBlockInNonBlockable: 'a non-blockable invalidation callback never sleeps or waits',
  KernelBug: 'the model reached a kernel BUG_ON/WARN condition',
};

export interface Violation {
  readonly property: PropertyName;
  readonly seq: number;
  readonly message: string;
}

/**
 * The pinned pages a vfio_dma accounts for: with an IOMMU domain, the RAM its extents pin
 * (vfio_pin_pages_remote charges them); without one, the pages mdev drivers pinned through its
 * pfn_list (vfio_pin_page_external charges those). Reserved pfns (MMIO) count for nothing.
 */
function pinnedPages(domain: boolean, d: VfioDma): number {
  if (!domain) return d.pfnList.size;
  let n = 0;
  for (const e of d.extents) if (e.kind === 'ram') n += Number(e.size >> PAGE_SHIFT);
  return n;
}

/**
 * Checks the history properties after each record. It keeps, per mm, the pages pinned and
 * charged to it, recomputed from the pins of each vfio_dma a record changed, so that
 * LockedVmConserved costs O(what changed) and does not trust the engine's own counters.
 */
export class Checker {
  private readonly byDma = new Map<number, { mm: number; pages: number }>();
  private readonly pinnedByMm = new Map<number, number>();
  /** mms whose tally or locked_vm moved since the last quiescent record. */
  private readonly dirtyMms = new Set<number>();
  /** The lock graph over every step this checker saw. */
  lockGraph = new LockGraph();

  /**
   * `incremental`: one history (replay), the LockedVmConserved tally carried from record to
   * record. Otherwise (the explorer, whose successive checks are on different histories) the
   * tally is recomputed for the touched mms from the world.
   */
  constructor(private readonly incremental = true) {}

  /** A non-incremental checker with a copy of this one's lock graph. */
  fork(): Checker {
    const c = new Checker(false);
    c.lockGraph = this.lockGraph.clone();
    return c;
  }

  /** Carries the per-mm tally of pinned pages over the dmas a record changed; returns the mms it moved. */
  private updateTally(w: World, t: Touched): Set<number> {
    const mms = new Set(t.mms);
    for (const ch of t.pinChanges) {
      const t1 = w.containers.get(ch.container)?.type1 ?? null;
      const found = t1?.dmas.get(ch.iova);
      const now = found === undefined || found.id !== ch.dma || found.state === 'removed' ? { mm: -1, pages: 0 } : { mm: found.mm, pages: pinnedPages(t1!.domain !== null, found) };
      const before = this.byDma.get(ch.dma) ?? { mm: -1, pages: 0 };
      if (before.mm === now.mm && before.pages === now.pages) continue;
      if (before.mm >= 0) {
        this.pinnedByMm.set(before.mm, (this.pinnedByMm.get(before.mm) ?? 0) - before.pages);
        mms.add(before.mm);
      }
      if (now.mm >= 0) {
        this.pinnedByMm.set(now.mm, (this.pinnedByMm.get(now.mm) ?? 0) + now.pages);
        mms.add(now.mm);
        this.byDma.set(ch.dma, now);
      } else this.byDma.delete(ch.dma);
    }
    return mms;
  }

  check(w: World, t: Touched, seq: number): Violation[] {
    const out: Violation[] = [];
    const v = (property: PropertyName, message: string): void => {
      out.push({ property, seq, message });
    };
    // NoOverlap: each new dma against its neighbours in iova order.
    for (const { container, iova, dma } of t.dmas) {
      const dmas = w.containers.get(container)?.type1?.dmas;
      const d = dmas?.get(iova);
      if (dmas === undefined || d === undefined || d.id !== dma) continue;
      const prev = below(dmas, iova);
      const next = above(dmas, iova);
      if (prev !== undefined && prev.iova + prev.size > d.iova) v('NoOverlap', `container ${container}: [${hex(prev.iova)}, +${hex(prev.size)}) overlaps [${hex(d.iova)}, +${hex(d.size)})`);
      if (next !== undefined && d.iova + d.size > next.iova) v('NoOverlap', `container ${container}: [${hex(d.iova)}, +${hex(d.size)}) overlaps [${hex(next.iova)}, +${hex(next.size)})`);
    }
    for (const l of t.landings) {
      if (l.kind === 'ram' && !l.pinned) v('NoDmaUseAfterFree', `DMA reached RAM ${hex(l.phys)} (+${hex(l.size)}) that vfio_dma ${l.dma} no longer pins`);
      if (l.kind === 'mmio') {
        const why = !l.present ? 'is unbound' : !l.decodeOn ? 'has memory decode off' : !l.ownerHoldsOpen ? 'is no longer held open by the mapping owner' : null;
        if (why !== null) v('NoDmaToDisabledMmio', `DMA reached ${l.device} BAR${l.bar} at ${hex(l.phys)} (+${hex(l.size)}); the device ${why}`);
      }
      if (l.kind === 'raw') v('IsolationBreach', `${l.device} reached physical ${hex(l.phys)} (+${hex(l.size)}) with no IOMMU translation`);
    }
    // LockedVmConserved holds between system calls: inside a path, pages are pinned before they
    // are charged (vfio_pin_pages_remote, then vfio_lock_acct), so it is judged only when no
    // task is inside a path.
    const quiescent = ![...w.tasks.values()].some((x) => x.current !== null);
    if (this.incremental) {
      for (const id of this.updateTally(w, t)) this.dirtyMms.add(id);
      if (quiescent) {
        for (const id of this.dirtyMms) {
          const mm = w.mms.get(id);
          if (mm === undefined || mm.state !== 'live') continue;
          const expected = this.pinnedByMm.get(id) ?? 0;
          if (mm.lockedVm !== expected) v('LockedVmConserved', `mm ${id}: locked_vm is ${mm.lockedVm} pages but ${expected} pages are pinned and charged to it`);
        }
        this.dirtyMms.clear();
      }
    } else if (quiescent) {
      // The explorer: each state is another history, so recompute every live mm from the world.
      const expected = new Map<number, number>();
      for (const c of w.containers.values()) {
        const t1 = c.type1;
        if (t1 === null) continue;
        for (const d of t1.dmas.valuesArray()) if (d.state !== 'removed') expected.set(d.mm, (expected.get(d.mm) ?? 0) + pinnedPages(t1.domain !== null, d));
      }
      for (const mm of w.mms.values()) {
        if (mm.state === 'live' && mm.lockedVm !== (expected.get(mm.id) ?? 0)) {
          v('LockedVmConserved', `mm ${mm.id}: locked_vm is ${mm.lockedVm} pages but ${expected.get(mm.id) ?? 0} pages are pinned and charged to it`);
        }
      }
    }
    for (const a of t.pasidAllocations) {
      if (a.stillUsedBy.length > 0) v('PasidNotReusedWhileLive', `PASID ${a.pasid} given to mm ${a.mm} while ${a.stillUsedBy.join(', ')} may still use it`);
    }
    for (const p of t.ptes) {
      for (const r of w.iommu.resv) {
        if ((r.type === 'msi' || r.type === 'sw_msi') && p.iova <= r.end && r.start <= p.iova + p.size - 1n) {
          v('MsiWindowIntact', `container ${p.container}: a user mapping [${hex(p.iova)}, +${hex(p.size)}) covers the MSI window [${hex(r.start)}, ${hex(r.end)}]`);
        }
      }
    }
    if (t.teardown && isTornDown(w)) {
      const pending = w.pageRequests.filter((r) => r.state === 'pending');
      if (pending.length > 0) v('FaultsAnswered', `${pending.length} page request(s) left unanswered at teardown`);
    }
    for (const b of t.kernelBugs) v('KernelBug', b);
    for (const s of t.nonBlockSleeps) v('NoBlockInNonBlockable', s);
    for (const e of t.lockEdges) {
      const cycle = this.lockGraph.add(e);
      if (cycle !== null) v('LockOrder', describeCycle(cycle));
    }
    return out;
  }
}

/** Every process has exited and every device is unbound. */
export function isTornDown(w: World): boolean {
  if (w.processes.size === 0 && w.devices.size === 0) return false;
  for (const p of w.processes.values()) if (p.state !== 'exited') return false;
  for (const d of w.devices.values()) if (d.state !== 'removed') return false;
  return true;
}
