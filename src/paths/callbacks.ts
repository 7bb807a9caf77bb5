/**
 * The step every invalidation path shares: one MMU-notifier subscriber's callback per step
 * (mm/mmu_notifier.c mn_hlist_invalidate_range_start / mn_itree_invalidate /
 * mn_hlist_release call them one after another, and a callback may block: a type1 notifier
 * that takes iommu->lock). munmap, reclaim, the OOM reaper, the BAR zap and exit_mmap's
 * release all run it. The first `inStart` calls run inside invalidate_range_start, under the
 * lockdep map; after the last of them invalidate_range_start returns and the map is left
 * (startReturns), before any later step runs. An interval callback that fails (only a
 * non-blockable one can: its trylock) ends invalidate_range_start with -EAGAIN at once
 * (invalidateStartFails): the path's `last` step sees `failed` and must not end the range.
 */
import { invalidateEnd, invalidateStart, invalidateStartFails, callbackRequires, runCallback, startReturns, type Subscriber } from '../kernel/mm/mmu_notifier.js';
import { KERNEL } from '../kernel/tables.js';
import type { Task } from '../core/world.js';
import type { Tx } from '../core/tx.js';
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
  /** How many of the calls (the first ones) run inside invalidate_range_start, under the lockdep map. */
  inStart: number;
  /**
   * The mms this path has an invalidation of in flight (begun, not ended): an
   * mmu_interval_read_begin on one of them waits for this task.
   */
  inflight?: number[];
  /**
   * invalidate_range_start failed (-EAGAIN: an interval callback of a non-blockable range
   * failed): the later callbacks were not called and the caller must not call invalidate_range_end.
   */
  failed?: boolean;
}

/** invalidate_range_start on `mm`, counted in the path's invalidations in flight. */
export function beginInvalidation(tx: Tx, task: Task, ctx: CallbackLocals, mm: number, start: bigint, end: bigint, blockable: boolean, where: string): void {
  invalidateStart(tx, task, mm, start, end, blockable, where);
  (ctx.inflight ??= []).push(mm);
}

/** invalidate_range_end on `mm`: the invalidation is no longer in flight. */
export function endInvalidation(tx: Tx, task: Task, ctx: CallbackLocals, mm: number, blockable: boolean, where: string): void {
  invalidateEnd(tx, task, mm, blockable, where);
  forgetInflight(ctx, mm);
}

/** One invalidation of `mm` this path had in flight has ended. */
export function forgetInflight(ctx: CallbackLocals, mm: number): void {
  const i = ctx.inflight?.indexOf(mm) ?? -1;
  if (i >= 0) ctx.inflight!.splice(i, 1);
}

/**
 * Sets the callbacks to run, the first `inStart` of them inside invalidate_range_start; the
 * event that enters them, or `none` when there are none. With no call inside it,
 * invalidate_range_start returns here.
 */
export function startCalls<A extends string, B extends string>(tx: Tx, task: Task, ctx: CallbackLocals, calls: Call[], inStart: number, some: A, none: B): A | B {
  ctx.calls = calls;
  ctx.i = 0;
  ctx.inStart = inStart;
  ctx.failed = false;
  if (inStart === 0) startReturns(tx, task);
  return calls.length > 0 ? some : none;
}

/**
 * The step that runs the next callback: `next` while more remain, then `last`. After the last
 * call inside invalidate_range_start, the map is left in the same step.
 */
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
      if (!runCallback(tx, task, c.sub, c.mm, c.start, c.end, where) && c.sub.kind === 'interval') {
        // mn_itree_invalidate: goto out_would_block; the remaining calls are not made
        invalidateStartFails(tx, task, c.mm);
        forgetInflight(ctx, c.mm);
        ctx.failed = true;
        ctx.i = ctx.calls.length;
        return last;
      }
      ctx.i += 1;
      if (ctx.i === ctx.inStart) startReturns(tx, task);
      return ctx.i < ctx.calls.length ? next : last;
    },
  };
}
