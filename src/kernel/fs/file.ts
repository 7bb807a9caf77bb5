/**
 * Files and fds (fs/file.c, fs/open.c, fs/file_table.c): the fd table, close, and fput, whose
 * last reference runs the file's ->release through its f_op table (KernelOps.file), deferred to
 * task_work as the kernel defers ____fput.
 */

import { processOf, fileOf } from '../../core/lookup.js';
import { Tx, type Outcome, type KernelOps } from '../../core/tx.js';
import { type Process, type OpenFile, newId, type FileKind, type World } from '../../core/world.js';
import type { Policy } from '../../schemes/policies/index.js';
import type { LockUse } from '../../vocab/locks.js';
import type { StimulusOf } from '../../vocab/records.js';

/** fs/file.c:alloc_fd(): the lowest free fd. Fds 0-2 are taken at spawn. */
export function installFd(p: Process, file: number): number {
  let fd = 0;
  while (p.fds.has(fd)) fd += 1;
  p.fds.set(fd, file);
  return fd;
}

export function newFile(tx: Tx, kind: OpenFile['kind'], ref: { container?: number; group?: string; device?: string }): OpenFile {
  const f: OpenFile = { id: newId(tx.world), kind, refs: 1, ...ref };
  tx.world.files.set(f.id, f);
  return f;
}

export function fileLabel(f: OpenFile): string {
  if (f.kind === 'container') return `container#${f.container}`;
  if (f.kind === 'group') return `group:${f.group}`;
  if (f.kind === 'tty') return 'tty';
  return `device:${f.device}`;
}

/** The `close` stimulus: fs/open.c:close_fd, then fput. */
export function close(tx: Tx, s: StimulusOf<'close'>): Outcome {
  const p = processOf(tx.world, s.pid);
  const id = p.fds.get(s.fd);
  if (id === undefined) tx.fail('EBADF', 'fs/file.c:close_fd: fd is not open');
  p.fds.delete(s.fd);
  fput(tx, id);
  return { ret: 0n, decidedBy: 'fs/file.c:close_fd' };
}

/**
 * fs/file_table.c:fput(): drop one reference. The last one's release (____fput) is deferred to
 * task_work, which runs before the syscall returns to user space (or in exit_task_work): never
 * under the locks of the path that dropped it. Without a task (set-up), it runs at once.
 */
export function fput(tx: Tx, fileId: number): void {
  const f = fileOf(tx.world, fileId);
  f.refs -= 1;
  if (f.refs > 0) return;
  if (f.kind === 'tty') {
    tx.world.files.delete(f.id);
    return;
  }
  if (tx.task !== null) {
    tx.task.deferred.push(f.id);
    return;
  }
  releaseFile(tx, f.id);
}

/** ____fput: the file's ->release, through its f_op (KernelOps.file). */
export function releaseFile(tx: Tx, fileId: number): void {
  const f = fileOf(tx.world, fileId);
  tx.world.files.delete(f.id);
  if (f.kind === 'tty') return;
  tx.cascade('file.released', { file: fileLabel(f) }, () => tx.ops.file[f.kind as Exclude<FileKind, 'tty'>].release(tx, f));
}

/** The locks a deferred ____fput of `fileId` takes: its f_op's release locks, in order. */
export function releaseLocks(w: World, ops: KernelOps, fileId: number, policy: Policy): LockUse[] {
  const f = w.files.get(fileId);
  if (f === undefined || f.kind === 'tty') return [];
  return ops.file[f.kind].releaseLocks(w, f, policy);
}
