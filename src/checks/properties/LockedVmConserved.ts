/**
 * LockedVmConserved: each live mm's locked_vm equals the non-reserved pages pinned and charged
 * to it. Kernel rule: vfio_lock_acct charges mm->locked_vm for every page vfio_pin_pages_remote
 * or vfio_pin_page_external pins and uncharges it on unpin. Holds the per-mm tally (PinTally).
 */
import { PAGE_SHIFT } from '../../log/u64.js';
import type { Touched } from '../../core/tx.js';
import type { VfioDma, World } from '../../core/world.js';

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

function message(mm: number, lockedVm: number, expected: number): string {
  return `mm ${mm}: locked_vm is ${lockedVm} pages but ${expected} pages are pinned and charged to it`;
}

/**
 * The pages pinned and charged to each mm over one history (replay), recomputed from the pins
 * of each vfio_dma a record changed, so that LockedVmConserved costs O(what changed) and does
 * not trust the engine's own counters.
 */
export class PinTally {
  private readonly byDma = new Map<number, { mm: number; pages: number }>();
  private readonly pinnedByMm = new Map<number, number>();
  /** mms whose tally or locked_vm moved since the last quiescent record. */
  private readonly dirtyMms = new Set<number>();

  /** Carries the per-mm tally of pinned pages over the dmas a record changed; returns the mms it moved. */
  private update(w: World, t: Touched): Set<number> {
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

  /** Carries the tally over a record; when quiescent, judges the mms moved since the last quiescent record. */
  judge(w: World, t: Touched, quiescent: boolean): string[] {
    for (const id of this.update(w, t)) this.dirtyMms.add(id);
    if (!quiescent) return [];
    const out: string[] = [];
    for (const id of this.dirtyMms) {
      const mm = w.mms.get(id);
      if (mm === undefined || mm.state !== 'live') continue;
      const expected = this.pinnedByMm.get(id) ?? 0;
      if (mm.lockedVm !== expected) out.push(message(id, mm.lockedVm, expected));
    }
    this.dirtyMms.clear();
    return out;
  }
}

/**
 * vfio_lock_acct's charge matches the pins: the violation messages after a record (none when it
 * holds). With a tally, one history carried from record to record; without (null: the explorer,
 * whose successive checks are on different histories), recomputed from the world.
 */
export function lockedVmConserved(w: World, t: Touched, tally: PinTally | null): string[] {
  // LockedVmConserved holds between system calls: inside a path, pages are pinned before they
  // are charged (vfio_pin_pages_remote, then vfio_lock_acct), so it is judged only when no
  // task is inside a path.
  const quiescent = ![...w.tasks.values()].some((x) => x.current !== null);
  if (tally !== null) return tally.judge(w, t, quiescent);
  if (!quiescent) return [];
  // The explorer: each state is another history, so recompute every live mm from the world.
  const expected = new Map<number, number>();
  for (const c of w.containers.values()) {
    const t1 = c.type1;
    if (t1 === null) continue;
    for (const d of t1.dmas.valuesArray()) if (d.state !== 'removed') expected.set(d.mm, (expected.get(d.mm) ?? 0) + pinnedPages(t1.domain !== null, d));
  }
  const out: string[] = [];
  for (const mm of w.mms.values()) {
    if (mm.state === 'live' && mm.lockedVm !== (expected.get(mm.id) ?? 0)) out.push(message(mm.id, mm.lockedVm, expected.get(mm.id) ?? 0));
  }
  return out;
}
