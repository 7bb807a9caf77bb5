/**
 * The step every invalidation path shares: one MMU-notifier subscriber's callback per step
 * (mm/mmu_notifier.c mn_hlist_invalidate_range_start / mn_itree_invalidate /
 * mn_hlist_release call them one after another, and a callback may block: a type1 notifier
 * that takes iommu->lock). munmap, reclaim, the OOM reaper, the BAR zap and exit_mmap's
 * release all run it.
 */
import { callbackRequires, runCallback, type Subscriber } from '../kernel/mm/mmu_notifier.js';
import { KERNEL } from '../kernel/tables.js';
import type { StimulusOp } from '../vocab/records.js';
import type { PathLocals, PathStep } from './types.js';

/** A subscriber to call, with the range of the mm its callback is told about. */
export interface Call {
  readonly sub: Subscriber;
  readonly mm: number;
  readonly start: bigint;
  readonly end: bigint;
}

/** The locals of a path inside an invalidation: the callbacks to run, and the next one. */
export interface CallbackLocals extends PathLocals {
  calls: Call[];
  i: number;
}

/** Sets the callbacks to run; the event that enters them, or `none` when there are none. */
export function startCalls<A extends string, B extends string>(ctx: CallbackLocals, calls: Call[], some: A, none: B): A | B {
  ctx.calls = calls;
  ctx.i = 0;
  return calls.length > 0 ? some : none;
}

/** The step that runs the next callback: `next` while more remain, then `last`. */
export function callbackStep<Ctx extends CallbackLocals, O extends StimulusOp, A extends string, B extends string>(
  mirrors: string,
  where: string,
  next: A,
  last: B,
): PathStep<A | B, Ctx, O> {
  return {
    mirrors,
    requires: (w, task, rp, policy) => callbackRequires(w, KERNEL.ops, policy, rp.ctx.calls[rp.ctx.i]?.sub, task),
    run(tx, task, rp) {
      const ctx = rp.ctx;
      const c = ctx.calls[ctx.i]!;
      runCallback(tx, task, c.sub, c.mm, c.start, c.end, where);
      ctx.i += 1;
      return ctx.i < ctx.calls.length ? next : last;
    },
  };
}
