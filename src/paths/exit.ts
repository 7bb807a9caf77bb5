/**
 * The steps of process exit (machines/paths/exit.machine.ts): kernel/exit.c do_exit -> exit_mm
 * (mmput -> __mmput -> exit_mmap) -> exit_files, each file's last fput deferred to task_work.
 * A process's exit waits for its syscalls in flight (they hold its mm).
 */
import { mmOf } from '../core/lookup.js';
import type { Tx } from '../core/tx.js';
import type { Mm, Process, Task, World } from '../core/world.js';
import { beginExit, exitCloseFd, exitMmapBegin, exitMmapHlistRelease, exitMmapUnmap, finishExit, mmputUser, nextFd } from '../kernel/mm/exit.js';
import { mmDrop } from '../kernel/mm/mm.js';
import { callbackRequires, subscribersOf } from '../kernel/mm/mmu_notifier.js';
import { KERNEL } from '../kernel/tables.js';
import { BadReference } from '../vocab/errors.js';
import { lockOf, writeLock, type LockUse } from '../vocab/locks.js';
import type { Policy } from '../schemes/policies/index.js';
import { U64_MAX } from '../log/u64.js';
import { callbackStep, forgetInflight, startCalls, type CallbackLocals } from './callbacks.js';
import { definePath } from './types.js';

/**
 * The tasks with a syscall of process `pid` in flight: one whose path has begun, or one queued
 * before the exit in the log (a task record starts its task where it appears: docs/concurrency.md).
 */
function tasksOfPid(w: World, pid: number, except: string, exitSeq: number): string[] {
  const out: string[] = [];
  for (const t of w.tasks.values()) {
    if (t.name === except) continue;
    const s = t.current?.stimulus ?? t.queue[0];
    if (s === undefined || (s as { pid?: number }).pid !== pid) continue;
    if (t.current !== null || s.seq < exitSeq) out.push(t.name);
  }
  return out;
}

interface ExitLocals extends CallbackLocals {
  pid: number;
  mm: number;
  /** How many of the release calls (the first ones) are mn_itree_release's interval callbacks. */
  itree: number;
}

/** mn_itree_release is over (its invalidation no longer in flight); mn_hlist_release begins. */
function hlistRelease(tx: Tx, ctx: ExitLocals, mm: Mm): void {
  exitMmapHlistRelease(tx, mm);
  forgetInflight(ctx, mm.id);
}

/** The locks unmap_vmas' callbacks take: the intervals still in the itree (the hlist is empty). */
function exitUnmapCallbackLocks(w: World, task: Task, mm: number, policy: Policy): LockUse[] {
  if (mmOf(w, mm).vmas.length === 0) return [];
  return subscribersOf(w, mm)
    .filter((x) => x.kind === 'interval')
    .flatMap((sub) => callbackRequires(w, KERNEL.ops, policy, sub, task));
}

const releaseCall = callbackStep<ExitLocals, 'exit', 'NEXT', 'UNMAP'>(
  'mm/mmu_notifier.c:mn_itree_release (an interval notifier, blockable) or mn_hlist_release (ops->release), no lock held',
  'exit.release (mmu_notifier_release)',
  'NEXT',
  'UNMAP',
);

function exitingProcess(w: World, pid: number): Process {
  const p = w.processes.get(pid);
  if (p === undefined) throw new BadReference('pid', `no process ${pid} (declare it with process.spawn)`);
  return p;
}

export const exit = definePath<ExitLocals, 'exit'>()('exit', {
  wait: {
    mirrors: 'kernel/exit.c:do_exit (once no other syscall of the process is in flight)',
    requires: (w, task, rp) => {
      const others = tasksOfPid(w, rp.stimulus.pid, task.name, rp.stimulus.seq);
      return [{ wait: `the syscalls in flight of process ${rp.stimulus.pid} (${others.join(', ')})`, ready: others.length === 0, on: others }];
    },
    run(tx, _task, rp) {
      const p = exitingProcess(tx.world, rp.stimulus.pid);
      if (p.state !== 'running') throw new BadReference('pid', `process ${p.pid} has exited`);
      rp.ctx.pid = p.pid;
      rp.ctx.mm = p.mm;
      beginExit(tx, p);
      return 'START';
    },
  },
  mm: {
    mirrors: 'kernel/exit.c:exit_mm -> kernel/fork.c:mmput -> mm/mmap.c:exit_mmap -> mmu_notifier_release (before mmap_lock)',
    run(tx, task, rp) {
      const ctx = rp.ctx;
      const mm = mmOf(tx.world, ctx.mm);
      if (!mmputUser(tx, mm)) return 'FILES';
      // mmu_notifier_release, no lock held: mn_itree_release (a full invalidation of the
      // intervals), then mn_hlist_release (SVA here; type1's release callbacks, one per step)
      exitMmapBegin(tx, mm);
      (ctx.inflight ??= []).push(mm.id);
      const subs = subscribersOf(tx.world, mm.id);
      const intervals = subs.filter((x) => x.kind === 'interval');
      ctx.itree = intervals.length;
      if (ctx.itree === 0) hlistRelease(tx, ctx, mm);
      const calls = [...intervals, ...subs.filter((x) => x.kind === 'type1')].map((sub) => ({ sub, mm: ctx.mm, start: 0n, end: U64_MAX }));
      return startCalls(tx, task, ctx, calls, 0, 'RELEASE', 'UNMAP');
    },
  },
  release: {
    ...releaseCall,
    run(tx, task, rp) {
      const ev = releaseCall.run(tx, task, rp);
      if (rp.ctx.i === rp.ctx.itree) hlistRelease(tx, rp.ctx, mmOf(tx.world, rp.ctx.mm));
      return ev;
    },
  },
  unmap: {
    mirrors: 'mm/mmap.c:exit_mmap (mmap_read_lock, unmap_vmas, mmap_read_unlock, mmap_write_lock, free_pgtables, every vma freed, mmap_write_unlock), kernel/fork.c:mmdrop',
    // one step: mmap_lock is taken for read, dropped, then taken for write; nothing else uses
    // the mm by then (mmget_not_zero fails); the interval callbacks' update locks are never held
    // across a step
    requires: (w, task, rp, policy) => [writeLock(lockOf.mmap(rp.ctx.mm)), ...exitUnmapCallbackLocks(w, task, rp.ctx.mm, policy)],
    run(tx, task, rp) {
      const mm = mmOf(tx.world, rp.ctx.mm);
      exitMmapUnmap(tx, task, mm, 'exit.unmap (exit_mmap)');
      mmDrop(tx, mm);
      return 'FILES';
    },
  },
  files: {
    mirrors: 'kernel/exit.c:exit_files -> fs/file.c:close_files (each last fput deferred to task_work)',
    run(tx, _task, rp) {
      // every fd, lowest first; the releases run afterwards as task_work, one step each
      const p = exitingProcess(tx.world, rp.stimulus.pid);
      const queued = _task.deferred.length;
      for (let fd = nextFd(p); fd !== undefined; fd = nextFd(p)) exitCloseFd(tx, p, fd);
      // kernel/task_work.c: task_work_add pushes at the head (`work->next = head;
      // try_cmpxchg(&task->task_works, &head, work)`) and task_work_run runs the list from the
      // head, so the last fd's release runs first (releases they queue run after this batch)
      _task.deferred.push(..._task.deferred.splice(queued).reverse());
      rp.ctx.outcome = finishExit(tx, p);
      return 'RETURN';
    },
  },
});
