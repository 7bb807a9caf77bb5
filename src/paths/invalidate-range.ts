/**
 * munmap, memory reclaim and the OOM reaper as paths of machines/paths/invalidate-range.machine.ts:
 * the same invalidate_range_start -> callbacks -> invalidate_range_end, entered under a
 * different lock and ending with a different unmap.
 */
import type { StimulusOf } from '../vocab/records.js';
import { acquire, release } from '../core/locks.js';
import { mmOf, processOf } from '../core/lookup.js';
import * as mmRules from '../kernel/mm/mm.js';
import { KernelReturn, type Outcome, type Tx } from '../core/tx.js';
import type { RunningPath, Task } from '../core/world.js';
import { callbackRequires, invalidateEnd, invalidateStart, runCallback, subscribersOf, type Subscriber } from '../kernel/mm/mmu_notifier.js';
import type { PathDef, PathStep, Requirement } from './types.js';

interface RangeCtx {
  pid: number;
  mm: number;
  start: bigint;
  end: bigint;
  subs: Subscriber[];
  i: number;
  outcome: Outcome;
}

const ctxOf = (rp: RunningPath): RangeCtx => rp.ctx as unknown as RangeCtx;
const mmapLock = (mm: number): string => `mmap_lock#${mm}`;

/** Starts the invalidation over ctx.start..ctx.end; the event for the machine. */
function startCallbacks(tx: Tx, task: Task, ctx: RangeCtx, blockable: boolean, where: string): string {
  ctx.subs = subscribersOf(tx.world, ctx.mm, ctx.start, ctx.end);
  ctx.i = 0;
  invalidateStart(tx, task, ctx.mm, ctx.start, ctx.end, blockable, where);
  return ctx.subs.length > 0 ? 'CALLBACK' : 'END';
}

/** The shared callback step: one subscriber per step. */
function callbackStep(where: string): PathStep {
  return {
    requires: (w, task, rp, scheme): Requirement[] => callbackRequires(w, scheme, ctxOf(rp).subs[ctxOf(rp).i], task),
    run(tx, task, rp) {
      const ctx = ctxOf(rp);
      runCallback(tx, task, ctx.subs[ctx.i]!, ctx.mm, ctx.start, ctx.end, where);
      ctx.i += 1;
      return ctx.i < ctx.subs.length ? 'NEXT' : 'END';
    },
  };
}

/** SPEC 1.3 `munmap`: mm/mmap.c do_vmi_munmap under mmap_write_lock, blockable invalidation. */
export const munmapPath: PathDef = {
  machine: 'invalidate_range',
  steps: {
    enter: {
      requires: (w, _t, rp): Requirement[] => {
        const p = w.processes.get((rp.stimulus as StimulusOf<'munmap'>).pid);
        return p === undefined || p.state !== 'running' ? [] : [{ lock: mmapLock(p.mm), mode: 'write' }];
      },
      run(tx, task, rp) {
        const s = rp.stimulus as StimulusOf<'munmap'>;
        const p = processOf(tx.world, s.pid);
        const ctx = ctxOf(rp);
        ctx.pid = p.pid;
        ctx.mm = p.mm;
        try {
          const r = mmRules.munmapRange(tx, s);
          ctx.start = r.start;
          ctx.end = r.end;
        } catch (e) {
          if (!(e instanceof KernelReturn)) throw e;
          ctx.outcome = { errno: e.errno, decidedBy: e.check };
          return 'RETURN';
        }
        acquire(tx, task, mmapLock(ctx.mm), 'write', 'munmap.enter');
        if (!mmRules.hasVmasIn(mmOf(tx.world, ctx.mm), ctx.start, ctx.end)) {
          release(tx, task, mmapLock(ctx.mm));
          ctx.outcome = { ret: 0n, decidedBy: 'mm/mmap.c:do_vmi_munmap: nothing mapped' };
          return 'RETURN';
        }
        return startCallbacks(tx, task, ctx, true, 'munmap.enter (invalidate_range_start)');
      },
    },
    callback: callbackStep('munmap.callback'),
    leave: {
      run(tx, task, rp) {
        const ctx = ctxOf(rp);
        invalidateEnd(tx, task, ctx.mm, true);
        mmRules.removeVmas(tx, mmOf(tx.world, ctx.mm), ctx.start, ctx.end);
        release(tx, task, mmapLock(ctx.mm));
        ctx.outcome = { ret: 0n, decidedBy: 'mm/mmap.c:do_vmi_munmap' };
        return 'RETURN';
      },
    },
  },
};

/**
 * SPEC 1.3 `mm.reclaim`: direct reclaim (lockdep's fs_reclaim is held throughout) unmaps the
 * range with a blockable invalidation (try_to_unmap -> mmu_notifier_invalidate_range_start).
 */
export const reclaimPath: PathDef = {
  machine: 'invalidate_range',
  steps: {
    enter: {
      run(tx, task, rp) {
        const s = rp.stimulus as StimulusOf<'mm.reclaim'>;
        const p = processOf(tx.world, s.pid);
        const ctx = ctxOf(rp);
        ctx.pid = p.pid;
        ctx.mm = p.mm;
        ctx.start = s.addr;
        ctx.end = s.addr + s.length;
        acquire(tx, task, 'fs_reclaim', 'write', 'reclaim.enter (direct reclaim)');
        return startCallbacks(tx, task, ctx, true, 'reclaim.enter (invalidate_range_start)');
      },
    },
    callback: callbackStep('reclaim.callback'),
    leave: {
      run(tx, task, rp) {
        const ctx = ctxOf(rp);
        invalidateEnd(tx, task, ctx.mm, true);
        ctx.outcome = mmRules.reclaimVmas(tx, ctx.pid, mmOf(tx.world, ctx.mm), ctx.start, ctx.end);
        release(tx, task, 'fs_reclaim');
        return 'RETURN';
      },
    },
  },
};

/**
 * SPEC 1.3 `mm.oom_reap`: mm/oom_kill.c __oom_reap_task_mm under mmap_read_trylock (the reaper
 * retries rather than sleeps: the model waits for the lock), non-blockable invalidation
 * (mmu_notifier_invalidate_range_start_nonblock: a callback must not sleep).
 */
export const oomReapPath: PathDef = {
  machine: 'invalidate_range',
  steps: {
    enter: {
      requires: (w, _t, rp): Requirement[] => {
        const p = w.processes.get((rp.stimulus as StimulusOf<'mm.oom_reap'>).pid);
        return p === undefined || p.state !== 'running' ? [] : [{ lock: mmapLock(p.mm), mode: 'read' }];
      },
      run(tx, task, rp) {
        const s = rp.stimulus as StimulusOf<'mm.oom_reap'>;
        const p = processOf(tx.world, s.pid);
        const ctx = ctxOf(rp);
        ctx.pid = p.pid;
        ctx.mm = p.mm;
        acquire(tx, task, mmapLock(ctx.mm), 'read', 'oom_reap.enter (mmap_read_trylock)');
        const span = mmRules.anonSpan(mmOf(tx.world, ctx.mm));
        ctx.start = span?.start ?? 0n;
        ctx.end = span?.end ?? 0n;
        if (span === null) {
          ctx.outcome = mmRules.reapVmas(tx, ctx.pid, mmOf(tx.world, ctx.mm));
          release(tx, task, mmapLock(ctx.mm));
          return 'RETURN';
        }
        return startCallbacks(tx, task, ctx, false, 'oom_reap.enter (invalidate_range_start_nonblock)');
      },
    },
    callback: callbackStep('oom_reap.callback (non-blockable)'),
    leave: {
      run(tx, task, rp) {
        const ctx = ctxOf(rp);
        invalidateEnd(tx, task, ctx.mm, false);
        ctx.outcome = mmRules.reapVmas(tx, ctx.pid, mmOf(tx.world, ctx.mm));
        release(tx, task, mmapLock(ctx.mm));
        return 'RETURN';
      },
    },
  },
};
