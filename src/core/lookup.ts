/**
 * Finding the objects a stimulus names. A name the log never declared is bad input
 * (BadReference, exit 2), not a kernel error: the kernel would never see such a call.
 */
import { type Tx } from './tx.js';
import type { Container, Device, Group, Mm, OpenFile, Process, Vma, World } from './world.js';
import { BadReference, ModelError, showValue } from '../vocab/errors.js';

export function processOf(w: World, pid: number, field = 'pid'): Process {
  const p = w.processes.get(pid);
  if (p === undefined) throw new BadReference(field, `no process ${pid} (declare it with process.spawn)`);
  if (p.state !== 'running') throw new BadReference(field, `process ${pid} has exited`);
  return p;
}

export function mmOf(w: World, id: number): Mm {
  const mm = w.mms.get(id);
  if (mm === undefined) throw new ModelError(`no mm ${id}`);
  return mm;
}

export function deviceOf(w: World, name: string, field = 'device'): Device {
  const d = w.devices.get(name);
  if (d === undefined) throw new BadReference(field, `no device ${showValue(name)} (declare it with host.device or host.mdev)`);
  return d;
}

export function groupOf(w: World, key: string): Group {
  const g = w.groups.get(key);
  if (g === undefined) throw new ModelError(`no group ${key}`);
  return g;
}

export function containerOf(w: World, id: number): Container {
  const c = w.containers.get(id);
  if (c === undefined) throw new ModelError(`no container ${id}`);
  return c;
}

export function fileOf(w: World, id: number): OpenFile {
  const f = w.files.get(id);
  if (f === undefined) throw new ModelError(`no file ${id}`);
  return f;
}

/** fs/file.c:fget(): the file behind an fd, or EBADF. */
export function fdFile(tx: Tx, p: Process, fd: number): OpenFile {
  const id = p.fds.get(fd);
  if (id === undefined) tx.fail('EBADF', 'fs/file.c:fget: fd is not open');
  return fileOf(tx.world, id);
}

/** mm/mmap.c:find_vma_intersection() for one address. */
export function vmaAt(mm: Mm, addr: bigint): Vma | undefined {
  // vmas are sorted and few per mm in practice; a binary search keeps big logs fast
  let lo = 0;
  let hi = mm.vmas.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = mm.vmas[mid]!;
    if (addr < v.start) hi = mid - 1;
    else if (addr >= v.end) lo = mid + 1;
    else return v;
  }
  return undefined;
}
