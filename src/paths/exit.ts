/**
 * Paths that end lifetimes: process exit (machines/paths/exit.machine.ts), close of an fd (one
 * step taking the locks the file's release takes), and device unbind
 * (machines/paths/unbind.machine.ts), which waits for the last user.
 */
import type { StimulusOf } from '../vocab/records.js';
import { U64_MAX } from '../log/u64.js';
import { acquire, holding, release } from '../core/locks.js';
import { deviceOf, mmOf } from '../core/lookup.js';
import * as device from '../kernel/vfio/pci.js';
import * as mmRules from '../kernel/mm/mm.js';
import { type Outcome } from '../core/tx.js';
import type { Process, RunningPath, World } from '../core/world.js';
import { callbackRequires, runCallback, subscribersOf, type Subscriber } from '../kernel/mm/mmu_notifier.js';
import type { PathDef, Requirement } from './types.js';
import { BadReference } from '../vocab/errors.js';

const mmapLock = (mm: number): string => `mmap_lock#${mm}`;

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

interface ExitCtx {
  pid: number;
  mm: number;
  subs: Subscriber[];
  i: number;
  outcome: Outcome;
}

const exitCtx = (rp: RunningPath): ExitCtx => rp.ctx as unknown as ExitCtx;

function exitingProcess(w: World, rp: RunningPath): Process {
  const pid = (rp.stimulus as StimulusOf<'exit'>).pid;
  const p = w.processes.get(pid);
  if (p === undefined) throw new BadReference('pid', `no process ${pid} (declare it with process.spawn)`);
  return p;
}

export const exitPath: PathDef = {
  machine: 'exit',
  steps: {
    wait: {
      requires: (w, task, rp): Requirement[] => {
        const others = tasksOfPid(w, (rp.stimulus as StimulusOf<'exit'>).pid, task.name, rp.stimulus.seq);
        return [{ wait: `the syscalls in flight of process ${(rp.stimulus as StimulusOf<'exit'>).pid} (${others.join(', ')})`, ready: others.length === 0, on: others }];
      },
      run(tx, _task, rp) {
        const p = exitingProcess(tx.world, rp);
        if (p.state !== 'running') throw new BadReference('pid', `process ${p.pid} has exited`);
        const ctx = exitCtx(rp);
        ctx.pid = p.pid;
        ctx.mm = p.mm;
        mmRules.beginExit(tx, p);
        return 'START';
      },
    },
    mm: {
      requires: (w, _t, rp): Requirement[] => (mmOf(w, exitCtx(rp).mm).users === 1 ? [{ lock: mmapLock(exitCtx(rp).mm), mode: 'write' }] : []),
      run(tx, task, rp) {
        const ctx = exitCtx(rp);
        const mm = mmOf(tx.world, ctx.mm);
        if (!mmRules.mmputUser(mm)) return 'FILES';
        acquire(tx, task, mmapLock(ctx.mm), 'write', 'exit.mm (exit_mmap)');
        mmRules.exitMmapRelease(tx, mm);
        // mn_itree_release invalidates every interval; mn_hlist_release calls type1's release
        ctx.subs = subscribersOf(tx.world, mm.id).filter((x) => x.kind !== 'sva');
        ctx.i = 0;
        return ctx.subs.length > 0 ? 'RELEASE' : 'UNMAP';
      },
    },
    release: {
      requires: (w, _t, rp, scheme): Requirement[] => callbackRequires(w, scheme, exitCtx(rp).subs[exitCtx(rp).i], _t),
      run(tx, task, rp) {
        // mn_hlist_release: ops->release for the whole address space.
        const ctx = exitCtx(rp);
        runCallback(tx, task, ctx.subs[ctx.i]!, ctx.mm, 0n, U64_MAX, 'exit.release (mmu_notifier_release)');
        ctx.i += 1;
        return ctx.i < ctx.subs.length ? 'NEXT' : 'UNMAP';
      },
    },
    unmap: {
      run(tx, task, rp) {
        const ctx = exitCtx(rp);
        const mm = mmOf(tx.world, ctx.mm);
        mmRules.exitMmapUnmap(tx, mm);
        release(tx, task, mmapLock(ctx.mm));
        mmRules.mmDrop(tx, mm);
        return 'FILES';
      },
    },
    files: {
      run(tx, _task, rp) {
        // exit_files -> close_files: every fd, lowest first; each last fput's release is deferred
        // to task_work (exit_task_work), which runs the releases one step each.
        const ctx = exitCtx(rp);
        const p = exitingProcess(tx.world, rp);
        for (let fd = mmRules.nextFd(p); fd !== undefined; fd = mmRules.nextFd(p)) mmRules.exitCloseFd(tx, p, fd);
        ctx.outcome = mmRules.finishExit(tx, p);
        return 'RETURN';
      },
    },
  },
};

/** The tasks whose process holds `device` open (the users an unbind waits for). */
function holdersOf(w: World, name: string): string[] {
  const pids = new Set<number>();
  for (const p of w.processes.values()) {
    for (const id of p.fds.values()) if (w.files.get(id)?.device === name) pids.add(p.pid);
    for (const v of w.mms.get(p.mm)?.vmas ?? []) if (v.device === name) pids.add(p.pid);
  }
  const out: string[] = [];
  for (const t of w.tasks.values()) {
    const s = t.current?.stimulus ?? t.queue[0];
    if (s !== undefined && pids.has((s as { pid?: number }).pid ?? -1)) out.push(t.name);
  }
  return out;
}

/** The locks vfio_device_remove_group takes when it force-detaches the container. */
function removalLocks(w: World, name: string): Array<{ lock: string; mode: 'read' | 'write' }> {
  const d = w.devices.get(name);
  const g = d === undefined ? undefined : w.groups.get(d.group);
  if (d === undefined || g === undefined || g.container === null) return [];
  if (g.devices.some((n) => n !== name && w.devices.get(n)?.state !== 'removed')) return [];
  const c = w.containers.get(g.container);
  if (c === undefined) return [];
  return [{ lock: `container.group_lock#${c.id}`, mode: 'write' }, ...(c.type1 === null ? [] : [{ lock: `iommu.lock#${c.id}`, mode: 'write' as const }])];
}

/** The locks pciehp holds while it removes a device from a hotplug slot (`hot_remove`). */
function hotRemoveLocks(s: StimulusOf<'device.unbind'>): Array<{ lock: string; mode: 'read' | 'write' }> {
  if (s.hot_remove !== true) return [];
  return [
    { lock: `reset_lock#${s.device}`, mode: 'read' },
    { lock: 'pci_rescan_remove_lock', mode: 'write' },
  ];
}

export const unbindPath: PathDef = {
  machine: 'unbind',
  steps: {
    put: {
      requires: (_w, _t, rp): Requirement[] => hotRemoveLocks(rp.stimulus as StimulusOf<'device.unbind'>),
      run(tx, task, rp) {
        const s = rp.stimulus as StimulusOf<'device.unbind'>;
        // pciehp's removal (drivers/pci/hotplug/pciehp_hpc.c pciehp_ist: down_read(reset_lock)
        // around the presence/link change; pciehp_unconfigure_device: pci_lock_rescan_remove)
        // holds both across the driver's remove, which is where vfio waits.
        for (const l of hotRemoveLocks(s)) acquire(tx, task, l.lock, l.mode, 'unbind.put (pciehp removal)');
        device.unbindPut(tx, s);
        return 'WAIT';
      },
    },
    remove: {
      requires: (w, _t, rp): Requirement[] => {
        const name = (rp.stimulus as StimulusOf<'device.unbind'>).device;
        const d = w.devices.get(name)!;
        return [
          { wait: `the last registration reference of ${name} (vfio_unregister_group_dev)`, ready: d.state === 'released', on: holdersOf(w, name) },
          ...removalLocks(w, name),
        ];
      },
      run(tx, task, rp) {
        const s = rp.stimulus as StimulusOf<'device.unbind'>;
        const d = deviceOf(tx.world, s.device);
        rp.ctx['outcome'] = holding(tx, task, removalLocks(tx.world, d.name), 'unbind.remove (vfio_device_remove_group)', () => device.unbindRemove(tx, d));
        for (const l of hotRemoveLocks(s).reverse()) release(tx, task, l.lock);
        return 'RETURN';
      },
    },
  },
};
