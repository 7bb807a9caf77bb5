/**
 * Memory pressure and the OOM reaper (mm/vmscan.c, mm/migrate.c, mm/oom_kill.c): what they free
 * once the MMU notifiers were called. FOLL_LONGTERM-pinned pages are never reclaimed.
 */

import { Tx, type Outcome } from '../../core/tx.js';
import type { Vma, Mm } from '../../core/world.js';
import { hex } from '../../log/u64.js';
import { BadReference } from '../../vocab/errors.js';
import type { StimulusOf } from '../../vocab/records.js';
import { TASK_SIZE } from './mmap.js';

/** Whether any vfio_dma still pins pages of this anonymous vma. */
function pinned(tx: Tx, v: Vma): boolean {
  if (v.phys === null) return false;
  const lo = v.phys;
  const hi = v.phys + (v.end - v.start);
  for (const c of tx.world.containers.values()) {
    for (const d of c.type1?.dmas.valuesArray() ?? []) {
      if (d.extents.some((e) => e.kind === 'ram' && e.phys < hi && lo < e.phys + e.size)) return true;
      for (const pfn of d.pfnList.values()) if (pfn.phys >= lo && pfn.phys < hi) return true;
    }
  }
  return false;
}

/**
 * The range of a `mm.reclaim` stimulus. Reclaim walks user memory, so a range that does not lie
 * below TASK_SIZE describes no memory the kernel could reclaim: bad input naming the field.
 */
export function reclaimRange(s: StimulusOf<'mm.reclaim'>): { readonly start: bigint; readonly end: bigint } {
  const where = `the reclaimed range must lie in the user address space, below TASK_SIZE ${hex(TASK_SIZE)}`;
  if (s.addr > TASK_SIZE) throw new BadReference('addr', where);
  if (s.length > TASK_SIZE - s.addr) throw new BadReference('length', where);
  return { start: s.addr, end: s.addr + s.length };
}

/**
 * The `mm.reclaim` stimulus, after the invalidation: memory pressure reclaims or migrates the
 * range (mm/vmscan.c, mm/migrate.c via try_to_unmap). FOLL_LONGTERM-pinned pages are never
 * reclaimed or migrated. The model reclaims whole anonymous vmas inside the range.
 */
export function reclaimVmas(tx: Tx, pid: number, mm: Mm, start: bigint, end: bigint): Outcome {
  let freed = 0;
  for (const v of mm.vmas) {
    if (v.kind !== 'anon' || v.start < start || v.end > end || v.phys === null || pinned(tx, v)) continue;
    v.phys = null;
    freed += 1;
  }
  tx.emit('mm.reclaimed', { pid, start: hex(start), end: hex(end), vmas: freed });
  return { ret: 0n, decidedBy: 'mm/vmscan.c:shrink_folio_list (pinned folios are skipped)' };
}

/** A vma the OOM reaper invalidates on its own: [start, end) of mmu_notifier_range_init. */
export interface ReapRange {
  readonly start: bigint;
  readonly end: bigint;
}

/**
 * The vmas mm/oom_kill.c:__oom_reap_task_mm invalidates and unmaps, in its order: from the top
 * of the address space down (`mas_for_each_rev(&mas, vma, 0)`, v6.13+), skipping
 * `vma->vm_flags & (VM_HUGETLB|VM_PFNMAP)` (a BAR mmap is VM_PFNMAP) and keeping
 * `vma_is_anonymous(vma) || !(vma->vm_flags & VM_SHARED)` (the model's anon vmas are private
 * anonymous memory).
 */
export function reapableVmas(mm: Mm): ReapRange[] {
  return mm.vmas
    .filter((v) => v.kind === 'anon')
    .map((v) => ({ start: v.start, end: v.end }))
    .reverse();
}

/**
 * __oom_reap_task_mm, one vma whose invalidate_range_start_nonblock succeeded:
 * unmap_page_range(&tlb, vma, range.start, range.end, NULL) frees its anonymous memory (pinned
 * pages stay: the pin holds a reference).
 */
export function reapVma(tx: Tx, mm: Mm, r: ReapRange): void {
  const v = mm.vmas.find((x) => x.kind === 'anon' && x.start === r.start && x.end === r.end);
  if (v !== undefined && !pinned(tx, v)) v.phys = null;
}

/**
 * The `mm.oom_reap` stimulus, after the last vma: __oom_reap_task_mm returns `ret`, false if
 * any vma's invalidate_range_start_nonblock failed (`ret = false; continue;`: that vma was left
 * as it was). oom_reap_task_mm then returns it and oom_reap_task retries (`while (attempts++ <
 * MAX_OOM_REAP_RETRIES && !oom_reap_task_mm(tsk, mm)) schedule_timeout_idle(HZ/10);`, then
 * MMF_OOM_SKIP): in the model a retry is a later `mm.oom_reap` stimulus. `out` says which vmas
 * were reaped, which were not, and whether the reap must be retried.
 */
export function reapOutcome(tx: Tx, pid: number, mm: Mm, reaped: readonly ReapRange[], failed: readonly ReapRange[]): Outcome {
  const retry = failed.length > 0;
  if (!retry) mm.reaped = true;
  const at = (rs: readonly ReapRange[]) => rs.map((r) => hex(r.start));
  tx.emit('mm.oom_reaped', { pid, mm: mm.id, reaped: at(reaped), failed: at(failed), retry });
  return { ret: 0n, out: { reaped: at(reaped), failed: at(failed), retry }, decidedBy: retry ? 'mm/oom_kill.c:__oom_reap_task_mm: mmu_notifier_invalidate_range_start_nonblock failed (ret = false: retry)' : 'mm/oom_kill.c:__oom_reap_task_mm' };
}
