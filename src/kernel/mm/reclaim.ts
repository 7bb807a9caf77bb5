/**
 * Memory pressure and the OOM reaper (mm/vmscan.c, mm/migrate.c, mm/oom_kill.c): what they free
 * once the MMU notifiers were called. FOLL_LONGTERM-pinned pages are never reclaimed.
 */

import { Tx, type Outcome } from '../../core/tx.js';
import type { Vma, Mm } from '../../core/world.js';
import { hex } from '../../log/u64.js';

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
 * SPEC 1.3 `mm.reclaim`, after the invalidation: memory pressure reclaims or migrates the
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

/** The range the OOM reaper invalidates: from the lowest to the highest anonymous vma. */
export function anonSpan(mm: Mm): { start: bigint; end: bigint } | null {
  const anon = mm.vmas.filter((v) => v.kind === 'anon');
  if (anon.length === 0) return null;
  return { start: anon[0]!.start, end: anon[anon.length - 1]!.end };
}

/**
 * SPEC 1.3 `mm.oom_reap`, after the invalidation: mm/oom_kill.c:__oom_reap_task_mm frees the
 * anonymous memory of a victim (pinned pages stay).
 */
export function reapVmas(tx: Tx, pid: number, mm: Mm): Outcome {
  for (const v of mm.vmas) if (v.kind === 'anon' && !pinned(tx, v)) v.phys = null;
  mm.reaped = true;
  tx.emit('mm.oom_reaped', { pid, mm: mm.id });
  return { ret: 0n, decidedBy: 'mm/oom_kill.c:__oom_reap_task_mm' };
}
