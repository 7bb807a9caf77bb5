/**
 * Processes (kernel/fork.c): spawn, with fds 0-2 on a terminal, and fork (dup_fd, dup_mmap).
 */

import { processOf, mmOf, fileOf } from '../../core/lookup.js';
import { initialState } from '../../core/stepper.js';
import { Tx, type Outcome } from '../../core/tx.js';
import { type Process, newId, type Vma, type World } from '../../core/world.js';
import { BadReference } from '../../vocab/errors.js';
import { type LockUse, lockOf, writeLock } from '../../vocab/locks.js';
import type { StimulusOf } from '../../vocab/records.js';
import { newMm } from './mm.js';

/** The `process.spawn` stimulus: an empty address space; fds 0-2 taken. */
export function spawn(tx: Tx, s: StimulusOf<'process.spawn'>): Outcome {
  if (tx.world.processes.has(s.pid)) throw new BadReference('pid', `process ${s.pid} already exists`);
  const mm = newMm(tx);
  const p: Process = {
    pid: s.pid,
    state: initialState('process'),
    mm: mm.id,
    fds: new Map(),
    rlimitMemlock: s.rlimit_memlock ?? 0x800000n, // RLIMIT_MEMLOCK default: 8 MiB (v5.16+)
    capIpcLock: s.cap_ipc_lock ?? false,
    capSysRawio: s.cap_sys_rawio ?? false,
  };
  for (let fd = 0; fd < 3; fd += 1) p.fds.set(fd, stdioFile(tx));
  tx.world.processes.set(p.pid, p);
  return { ret: 0n, decidedBy: 'process.spawn' };
}

/** fds 0-2: the process's terminal. */
function stdioFile(tx: Tx): number {
  const id = newId(tx.world);
  tx.world.files.set(id, { id, kind: 'tty', refs: 1 });
  return id;
}

/** The `fork` stimulus: kernel/fork.c:copy_process (dup_fd, dup_mmap). */
export function fork(tx: Tx, s: StimulusOf<'fork'>): Outcome {
  const p = processOf(tx.world, s.pid);
  if (tx.world.processes.has(s.child)) throw new BadReference('child', `process ${s.child} already exists`);
  const parentMm = mmOf(tx.world, p.mm);
  const mm = newMm(tx);
  mm.nextMmap = parentMm.nextMmap;
  // dup_mmap: every vma is copied. Anonymous pages are copy-on-write: the model gives the
  // child its own backing at its first access. A BAR vma starts without PTEs and takes a
  // reference on the device file (vma->vm_file).
  for (const v of parentMm.vmas) {
    const copy: Vma = { ...v, phys: null };
    if (v.kind === 'bar') {
      copy.state = initialState('bar_mapping');
      copy.pages = [];
      fileOf(tx.world, v.file!).refs += 1;
    }
    mm.vmas.push(copy);
  }
  // dup_fd: the child shares every open file.
  const fds = new Map<number, number>();
  for (const [fd, id] of p.fds) {
    fds.set(fd, id);
    fileOf(tx.world, id).refs += 1;
  }
  tx.world.processes.set(s.child, { ...p, pid: s.child, state: initialState('process'), mm: mm.id, fds });
  tx.emit('process.forked', { pid: p.pid, child: s.child });
  return { ret: BigInt(s.child), decidedBy: 'kernel/fork.c:copy_process' };
}

/** fork's dup_mmap copies the parent's vmas under its mmap_write_lock. */
export function forkLocks(w: World, s: StimulusOf<'fork'>): LockUse[] {
  const p = w.processes.get(s.pid);
  return p === undefined ? [] : [writeLock(lockOf.mmap(p.mm))];
}
