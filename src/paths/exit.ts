/**
 * The steps of process exit (machines/paths/exit.machine.ts): kernel/exit.c do_exit -> exit_mm
 * (mmput -> __mmput -> exit_mmap) -> exit_files, each file's last fput deferred to task_work.
 * A process's exit waits for its syscalls in flight (they hold its mm).
 */
import { acquire, release } from '../core/locks.js';
import { mmOf } from '../core/lookup.js';
import type { Process, World } from '../core/world.js';
import { beginExit, exitCloseFd, exitMmapRelease, exitMmapUnmap, finishExit, mmputUser, nextFd } from '../kernel/mm/exit.js';
import { mmDrop } from '../kernel/mm/mm.js';
import { subscribersOf } from '../kernel/mm/mmu_notifier.js';
import { BadReference } from '../vocab/errors.js';
import { lockOf, writeLock } from '../vocab/locks.js';
import { U64_MAX } from '../log/u64.js';
import { callbackStep, startCalls, type CallbackLocals } from './callbacks.js';
import { definePath } from './types.js';

/**
 * The tasks with a syscall of process `pid` in flight: one whose path has begun, or one queued
 * before the exit in the log (SPEC 1.5: a task record starts its task where it appears).
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
}

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
    mirrors: 'kernel/exit.c:exit_mm -> kernel/fork.c:mmput -> mm/mmap.c:exit_mmap (mmap_write_lock, mmu_notifier_release)',
    requires: (w, _t, rp) => (mmOf(w, rp.ctx.mm).users === 1 ? [writeLock(lockOf.mmap(rp.ctx.mm))] : []),
    run(tx, task, rp) {
      const ctx = rp.ctx;
      const mm = mmOf(tx.world, ctx.mm);
      if (!mmputUser(mm)) return 'FILES';
      acquire(tx, task, lockOf.mmap(ctx.mm), 'write', 'exit.mm (exit_mmap)');
      exitMmapRelease(tx, mm);
      // mn_itree_release invalidates every interval; mn_hlist_release calls type1's release
      const calls = subscribersOf(tx.world, mm.id)
        .filter((x) => x.kind !== 'sva')
        .map((sub) => ({ sub, mm: ctx.mm, start: 0n, end: U64_MAX }));
      return startCalls(ctx, calls, 'RELEASE', 'UNMAP');
    },
  },
  release: callbackStep('mm/mmu_notifier.c:mn_hlist_release (ops->release for the whole address space)', 'exit.release (mmu_notifier_release)', 'NEXT', 'UNMAP'),
  unmap: {
    mirrors: 'mm/mmap.c:exit_mmap (unmap_vmas, free every vma), mmap_write_unlock, kernel/fork.c:mmdrop',
    run(tx, task, rp) {
      const mm = mmOf(tx.world, rp.ctx.mm);
      exitMmapUnmap(tx, mm);
      release(tx, task, lockOf.mmap(rp.ctx.mm));
      mmDrop(tx, mm);
      return 'FILES';
    },
  },
  files: {
    mirrors: 'kernel/exit.c:exit_files -> fs/file.c:close_files (each last fput deferred to task_work)',
    run(tx, _task, rp) {
      // every fd, lowest first; the releases run afterwards as task_work, one step each
      const p = exitingProcess(tx.world, rp.stimulus.pid);
      for (let fd = nextFd(p); fd !== undefined; fd = nextFd(p)) exitCloseFd(tx, p, fd);
      rp.ctx.outcome = finishExit(tx, p);
      return 'RETURN';
    },
  },
});
