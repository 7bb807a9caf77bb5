/**
 * The steps of munmap, memory reclaim and the OOM reaper, the three paths of
 * machines/paths/invalidate-range.machine.ts: the same invalidate_range_start -> one callback
 * per step -> invalidate_range_end (mm/mmu_notifier.c), entered under a different lock and
 * ending with a different unmap. Each is a `RangeSpec`; the steps are written once. munmap and
 * reclaim invalidate one range; the OOM reaper one range per reapable vma, each with its own
 * start, callbacks and end (leave begins the next).
 */
import { acquire, release } from '../core/locks.js';
import { mmOf, processOf } from '../core/lookup.js';
import type { Outcome, Tx } from '../core/tx.js';
import type { Task, World } from '../core/world.js';
import { subscribersOf } from '../kernel/mm/mmu_notifier.js';
import { hasVmasIn, munmapRange, removeVmas } from '../kernel/mm/mmap.js';
import { reapableVmas, reapOutcome, reapVma, reclaimRange, reclaimVmas, type ReapRange } from '../kernel/mm/reclaim.js';
import { lockOf, readLock, writeLock, type LockUse } from '../vocab/locks.js';
import type { StimulusOf } from '../vocab/records.js';
import { beginInvalidation, callbackStep, endInvalidation, startCalls, type CallbackLocals } from './callbacks.js';
import { definePath, type PathDef } from './types.js';

type RangeOp = 'munmap' | 'mm.reclaim' | 'mm.oom_reap';

interface RangeLocals extends CallbackLocals {
  pid: number;
  mm: number;
  start: bigint;
  end: bigint;
  lock: string;
  /** The OOM reaper: its vmas in order, the current one, and what became of those done. */
  reap?: { ranges: ReapRange[]; i: number; reaped: ReapRange[]; failed: ReapRange[] };
}

/** What makes one of the three paths itself. */
interface RangeSpec<O extends RangeOp> {
  readonly name: string;
  readonly mirrors: string;
  /** Where lockdep records the caller's lock being taken. */
  readonly lockedAt: string;
  /** mmu_notifier_invalidate_range_start (blockable) or its _nonblock variant. */
  readonly blockable: boolean;
  /** The caller's lock around the whole invalidation (a pseudo-lock never blocks). */
  lock(w: World, s: StimulusOf<O>, mm: number): LockUse;
  /** The checks made before the lock (an errno returns at once); the range to invalidate. */
  range?(tx: Tx, s: StimulusOf<O>): { start: bigint; end: bigint };
  /** Under the lock: the range, or the outcome when there is nothing to invalidate. */
  within(tx: Tx, ctx: RangeLocals): { start: bigint; end: bigint } | Outcome;
  /**
   * After invalidate_range_end (or a failed invalidate_range_start: `ctx.failed`), still under
   * the lock: what the path does to the range; the outcome, or the next range to invalidate.
   */
  finish(tx: Tx, ctx: RangeLocals): Outcome | ReapRange;
}

function rangePath<O extends RangeOp>(spec: RangeSpec<O>): PathDef {
  /** invalidate_range_start (or _nonblock) of [r.start, r.end); every callback runs inside it, under the lockdep map. */
  function begin(tx: Tx, task: Task, ctx: RangeLocals, r: ReapRange, at: string): 'CALLBACK' | 'END' {
    ctx.start = r.start;
    ctx.end = r.end;
    beginInvalidation(tx, task, ctx, ctx.mm, ctx.start, ctx.end, spec.blockable, `${spec.name}.${at} (invalidate_range_start${spec.blockable ? '' : '_nonblock'})`);
    const calls = subscribersOf(tx.world, ctx.mm, ctx.start, ctx.end).map((sub) => ({ sub, mm: ctx.mm, start: ctx.start, end: ctx.end }));
    return startCalls(tx, task, ctx, calls, calls.length, 'CALLBACK', 'END');
  }

  return definePath<RangeLocals, O>()('invalidate_range', {
    enter: {
      mirrors: spec.mirrors,
      requires: (w, _t, rp) => {
        const p = w.processes.get((rp.stimulus as StimulusOf<RangeOp>).pid);
        return p === undefined || p.state !== 'running' ? [] : [spec.lock(w, rp.stimulus, p.mm)];
      },
      run(tx, task, rp) {
        const p = processOf(tx.world, (rp.stimulus as StimulusOf<RangeOp>).pid);
        const ctx = rp.ctx;
        ctx.pid = p.pid;
        ctx.mm = p.mm;
        if (spec.range !== undefined) {
          const r = tx.attempt(() => spec.range!(tx, rp.stimulus));
          if ('outcome' in r) {
            ctx.outcome = r.outcome;
            return 'RETURN';
          }
          ctx.start = r.value.start;
          ctx.end = r.value.end;
        }
        const l = spec.lock(tx.world, rp.stimulus, p.mm);
        ctx.lock = l.lock;
        acquire(tx, task, l.lock, l.mode, spec.lockedAt);
        const r = spec.within(tx, ctx);
        if (!('start' in r)) {
          ctx.outcome = r;
          release(tx, task, l.lock);
          return 'RETURN';
        }
        return begin(tx, task, ctx, r, 'enter');
      },
    },
    callback: callbackStep('mm/mmu_notifier.c:mn_itree_invalidate / mn_hlist_invalidate_range_start (one subscriber)', `${spec.name}.callback${spec.blockable ? '' : ' (non-blockable)'}`, 'NEXT', 'END'),
    leave: {
      mirrors: 'mm/mmu_notifier.c:__mmu_notifier_invalidate_range_end, then the unmap (the OOM reaper: then the next vma)',
      run(tx, task, rp) {
        const ctx = rp.ctx;
        // on -EAGAIN "the non-blocking caller is not allowed to call invalidate_range_end()"
        if (ctx.failed !== true) endInvalidation(tx, task, ctx, ctx.mm, spec.blockable, `${spec.name}.leave (invalidate_range_end)`);
        const r = spec.finish(tx, ctx);
        if ('start' in r) return begin(tx, task, ctx, r, 'leave');
        ctx.outcome = r;
        release(tx, task, ctx.lock);
        return 'RETURN';
      },
    },
  });
}

/** The `munmap` stimulus: mm/mmap.c do_vmi_munmap under mmap_write_lock, blockable invalidation. */
export const munmapPath = rangePath<'munmap'>({
  name: 'munmap',
  mirrors: 'mm/vma.c:do_vmi_munmap (checks, mmap_write_lock, invalidate_range_start)',
  lockedAt: 'munmap.enter',
  blockable: true,
  lock: (_w, _s, mm) => writeLock(lockOf.mmap(mm)),
  range: (tx, s) => munmapRange(tx, s),
  within: (tx, ctx) => (hasVmasIn(mmOf(tx.world, ctx.mm), ctx.start, ctx.end) ? { start: ctx.start, end: ctx.end } : { ret: 0n, decidedBy: 'mm/vma.c:do_vmi_munmap: nothing mapped' }),
  finish(tx, ctx) {
    removeVmas(tx, mmOf(tx.world, ctx.mm), ctx.start, ctx.end);
    return { ret: 0n, decidedBy: 'mm/vma.c:do_vmi_munmap' };
  },
});

/**
 * The `mm.reclaim` stimulus: direct reclaim (lockdep's fs_reclaim is held throughout) unmaps the
 * range with a blockable invalidation (try_to_unmap -> mmu_notifier_invalidate_range_start).
 */
export const reclaimPath = rangePath<'mm.reclaim'>({
  name: 'reclaim',
  mirrors: 'mm/vmscan.c:shrink_folio_list -> mm/rmap.c:try_to_unmap (under fs_reclaim)',
  lockedAt: 'reclaim.enter (direct reclaim)',
  blockable: true,
  lock: () => writeLock(lockOf.fsReclaim),
  range: (_tx, s) => reclaimRange(s),
  within: (_tx, ctx) => ({ start: ctx.start, end: ctx.end }),
  finish: (tx, ctx) => reclaimVmas(tx, ctx.pid, mmOf(tx.world, ctx.mm), ctx.start, ctx.end),
});

/**
 * The `mm.oom_reap` stimulus: mm/oom_kill.c:oom_reap_task_mm under mmap_read_trylock (the reaper
 * retries rather than sleeps: the model waits for the lock), then __oom_reap_task_mm: for each
 * reapable vma, top down (reapableVmas), `mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0,
 * mm, vma->vm_start, vma->vm_end)` and `if (mmu_notifier_invalidate_range_start_nonblock(&range))
 * { tlb_finish_mmu(&tlb); ret = false; continue; }`, else unmap_page_range and
 * mmu_notifier_invalidate_range_end. A callback must not sleep; an interval callback whose
 * trylock fails leaves that vma unreaped and the reap to be retried.
 */
export const oomReapPath = rangePath<'mm.oom_reap'>({
  name: 'oom_reap',
  mirrors: 'mm/oom_kill.c:__oom_reap_task_mm (mmap_read_trylock, one invalidate_range_start_nonblock per reapable vma)',
  lockedAt: 'oom_reap.enter (mmap_read_trylock)',
  blockable: false,
  lock: (_w, _s, mm) => readLock(lockOf.mmap(mm)),
  within(tx, ctx) {
    const m = mmOf(tx.world, ctx.mm);
    ctx.reap = { ranges: reapableVmas(m), i: 0, reaped: [], failed: [] };
    return ctx.reap.ranges[0] ?? reapOutcome(tx, ctx.pid, m, [], []);
  },
  finish(tx, ctx) {
    const m = mmOf(tx.world, ctx.mm);
    const reap = ctx.reap!;
    const r = reap.ranges[reap.i]!;
    if (ctx.failed === true) reap.failed.push(r);
    else {
      reapVma(tx, m, r);
      reap.reaped.push(r);
    }
    reap.i += 1;
    return reap.ranges[reap.i] ?? reapOutcome(tx, ctx.pid, m, reap.reaped, reap.failed);
  },
});
