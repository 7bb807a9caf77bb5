/**
 * Processes and address spaces: spawn, mmap, munmap, touch, fork, exit, reclaim and the OOM
 * reaper (mm/mmap.c, mm/memory.c, kernel/fork.c, kernel/exit.c, mm/oom_kill.c), with the
 * MMU-notifier calls they make (mm/mmu_notifier.c) to the SVA bonds of the mm.
 */
import type { StimulusOf } from '../../vocab/records.js';
import { hex, isAligned, PAGE_SIZE, wraps } from '../../log/u64.js';
import { runActions } from '../actions.js';
import { deviceOf, fdFile, fileOf, mmOf, processOf, vmaAt } from '../../core/lookup.js';
import { initialState } from '../../core/stepper.js';
import { type Outcome, type Tx } from '../../core/tx.js';
import { MMAP_BASE, newId, type Mm, type Process, type Vma } from '../../core/world.js';
import { barMmap, faultBar } from '../vfio/pci.js';
import { fput } from '../vfio/files.js';
import { backAnon } from '../vfio/type1.js';
import { mmRelease } from '../iommu/sva.js';
import { BadReference } from '../../vocab/errors.js';

/** SPEC 1.2 `process.spawn`: an empty address space; fds 0-2 taken. */
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

function newMm(tx: Tx): Mm {
  const mm: Mm = { id: newId(tx.world), state: initialState('mm'), users: 1, count: 1, lockedVm: 0, vmas: [], pasid: null, svaNotifiers: [], type1Notifiers: [], itreeSeq: 2, itreeActive: 0, intervals: [], nextMmap: MMAP_BASE, reaped: false };
  tx.world.mms.set(mm.id, mm);
  return mm;
}

export function mmGrab(mm: Mm): void {
  mm.count += 1;
}

/** kernel/fork.c:mmdrop(): the last reference runs __mmdrop (mm_pasid_drop). */
export function mmDrop(tx: Tx, mm: Mm): void {
  mm.count -= 1;
  if (mm.count === 0) runActions(tx, 'mm', String(mm.id), tx.fire('mm', String(mm.id), mm, 'LAST_REF_DROPPED'));
}

function insertVma(mm: Mm, v: Vma): void {
  let i = mm.vmas.length;
  while (i > 0 && mm.vmas[i - 1]!.start > v.start) i -= 1;
  mm.vmas.splice(i, 0, v);
}

function overlaps(mm: Mm, start: bigint, end: bigint): boolean {
  return mm.vmas.some((v) => v.start < end && start < v.end);
}

/** SPEC 1.3 `mmap`: anonymous memory, or a device region of a vfio device fd. */
export function mmap(tx: Tx, s: StimulusOf<'mmap'>): Outcome {
  const p = processOf(tx.world, s.pid);
  const mm = mmOf(tx.world, p.mm);
  const prot = s.prot ?? { read: true, write: true };
  const at = 'mm/mmap.c:do_mmap';
  if (s.length === 0n) tx.fail('EINVAL', `${at}: !len`);
  const length = (s.length + PAGE_SIZE - 1n) & ~(PAGE_SIZE - 1n);
  const offset = s.offset ?? 0n;
  if (!isAligned(offset, PAGE_SIZE)) tx.fail('EINVAL', `${at}: offset not page aligned`);
  if (s.addr !== undefined && !isAligned(s.addr, PAGE_SIZE)) tx.fail('EINVAL', `${at}: addr not page aligned (MAP_FIXED_NOREPLACE)`);
  let addr = s.addr;
  if (addr !== undefined) {
    // The model treats addr as MAP_FIXED_NOREPLACE: it must be free.
    if (wraps(addr, length) || overlaps(mm, addr, addr + length)) tx.fail('EEXIST', `${at}: MAP_FIXED_NOREPLACE range is in use`);
  } else {
    addr = mm.nextMmap;
    while (overlaps(mm, addr, addr + length)) addr += length;
  }
  if (addr + length > mm.nextMmap) mm.nextMmap = addr + length;
  if (s.fd === undefined) {
    insertVma(mm, { start: addr, end: addr + length, prot, kind: 'anon', phys: null, state: 'anon' });
    tx.emit('vma.mapped', { pid: p.pid, start: hex(addr), end: hex(addr + length), kind: 'anon' });
    return { ret: addr, decidedBy: at };
  }
  const f = fdFile(tx, p, s.fd);
  if (f.kind !== 'device') tx.fail('ENODEV', `${at}: file has no mmap operation`);
  const v = barMmap(tx, deviceOf(tx.world, f.device!), f.id, addr, length, offset, prot);
  insertVma(mm, v);
  f.refs += 1; // vma->vm_file = get_file(file)
  tx.emit('vma.mapped', { pid: p.pid, start: hex(addr), end: hex(addr + length), kind: 'bar', device: v.device!, bar: v.bar! });
  return { ret: addr, decidedBy: 'vfio_pci_core.c:vfio_pci_core_mmap' };
}

/**
 * Removes [start, end) from the address space: splits vmas at the edges, calls the MMU
 * notifiers (invalidate_range_start/end) and drops what each removed piece held.
 */
/** Whether any vma intersects [start, end). */
export function hasVmasIn(mm: Mm, start: bigint, end: bigint): boolean {
  return mm.vmas.some((v) => v.start < end && start < v.end);
}

/**
 * mm/mmap.c:do_vmi_align_munmap after the notifiers: split the vmas at the edges, remove the
 * pieces inside, and drop what each held (a BAR vma's device file).
 */
export function removeVmas(tx: Tx, mm: Mm, start: bigint, end: bigint): void {
  const keep: Vma[] = [];
  const gone: Vma[] = [];
  for (const v of mm.vmas) {
    if (v.end <= start || v.start >= end) {
      keep.push(v);
      continue;
    }
    if (v.start < start) keep.push(slice(v, v.start, start));
    if (v.end > end) keep.push(slice(v, end, v.end));
    // __split_vma -> vma_dup: each new piece of a file vma takes its own get_file().
    if (v.file !== undefined) fileOf(tx.world, v.file).refs += (v.start < start ? 1 : 0) + (v.end > end ? 1 : 0);
    gone.push(slice(v, v.start < start ? start : v.start, v.end > end ? end : v.end));
  }
  if (gone.length === 0) return;
  mm.vmas = keep;
  for (const v of gone) {
    tx.emit('vma.unmapped', { mm: mm.id, start: hex(v.start), end: hex(v.end), kind: v.kind });
    if (v.kind === 'bar') {
      tx.fire('bar_mapping', `${mm.id}@${hex(v.start)}`, v, 'UNMAP');
      fput(tx, v.file!); // remove_vma -> fput(vma->vm_file)
    }
  }
}

function slice(v: Vma, start: bigint, end: bigint): Vma {
  const phys = v.phys === null ? null : v.phys + (start - v.start);
  const pgoff = v.pgoff === undefined ? undefined : v.pgoff + (start - v.start);
  const out: Vma = { ...v, start, end, phys };
  if (pgoff !== undefined) (out as { pgoff?: bigint }).pgoff = pgoff;
  return out;
}

/** SPEC 1.3 `munmap`: the checks of mm/mmap.c:do_vmi_munmap; returns the page-aligned range. */
export function munmapRange(tx: Tx, s: StimulusOf<'munmap'>): { readonly start: bigint; readonly end: bigint } {
  const at = 'mm/mmap.c:do_vmi_munmap';
  if (!isAligned(s.addr, PAGE_SIZE)) tx.fail('EINVAL', `${at}: start not page aligned`);
  if (s.length === 0n) tx.fail('EINVAL', `${at}: len == 0`);
  const len = (s.length + PAGE_SIZE - 1n) & ~(PAGE_SIZE - 1n);
  if (wraps(s.addr, len)) tx.fail('EINVAL', `${at}: range wraps`);
  return { start: s.addr, end: s.addr + len };
}

/** SPEC 1.3 `touch`: a CPU access; mm/memory.c:handle_mm_fault. */
export function touch(tx: Tx, s: StimulusOf<'touch'>): Outcome {
  const p = processOf(tx.world, s.pid);
  const mm = mmOf(tx.world, p.mm);
  const v = vmaAt(mm, s.addr);
  if (v === undefined) return { signal: 'SIGSEGV', decidedBy: 'arch/x86/mm/fault.c:do_user_addr_fault: no vma' };
  if ((s.write === true && !v.prot.write) || (s.write !== true && !v.prot.read)) {
    return { signal: 'SIGSEGV', decidedBy: 'arch/x86/mm/fault.c:access_error: vma does not allow the access' };
  }
  if (v.kind === 'anon') {
    if (v.phys === null) backAnon(tx, v);
    return { ret: 0n, decidedBy: 'mm/memory.c:handle_mm_fault' };
  }
  if (v.state === 'populated') return { ret: 0n, decidedBy: 'the BAR PTEs are present' };
  if (!faultBar(tx, p, v)) return { signal: 'SIGBUS', decidedBy: 'vfio_pci_core.c:vfio_pci_mmap_huge_fault: memory disabled -> VM_FAULT_SIGBUS' };
  return { ret: 0n, decidedBy: 'vfio_pci_core.c:vfio_pci_mmap_huge_fault: vmf_insert_pfn' };
}

/** SPEC 1.3 `fork`: kernel/fork.c:copy_process (dup_fd, dup_mmap). */
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

/** kernel/exit.c:do_exit begins: the process makes no more syscalls. */
export function beginExit(tx: Tx, p: Process): void {
  tx.touched.teardown = true;
  tx.fire('process', String(p.pid), p, 'EXIT');
}

/** kernel/exit.c:exit_mm -> mmput: drop this task's mm_users; true if it was the last user. */
export function mmputUser(mm: Mm): boolean {
  mm.users -= 1;
  return mm.users === 0;
}

/**
 * mm/mmap.c:exit_mmap, first part: mmu_notifier_release (mn_hlist_release calls every
 * subscriber's release, then unlinks them all). SVA bonds stop translating here; type1
 * notifiers (schemes) are released by the caller, one step each.
 */
export function exitMmapRelease(tx: Tx, mm: Mm): void {
  tx.emit('mm.exit_mmap', { mm: mm.id });
  mmRelease(tx, mm);
  // v5.18-rc freed the PASID in __mmput, while the IOMMU still held the mm (mmgrab)
  if (tx.scheme.pasidFree === 'mmput') releasePasid(tx, mm, 'FREE', 'kernel/fork.c:__mmput -> mm_pasid_drop (v5.18-rc)');
}

/** mm/mmap.c:exit_mmap, the rest: every vma goes (pinned pages survive), then mmdrop. */
export function exitMmapUnmap(tx: Tx, mm: Mm): void {
  mm.type1Notifiers = [];
  if (mm.vmas.length > 0) removeVmas(tx, mm, 0n, mm.vmas[mm.vmas.length - 1]!.end);
  tx.fire('mm', String(mm.id), mm, 'LAST_USER_GONE');
  tx.touched.mms.add(mm.id);
}

/** kernel/exit.c:exit_files: the lowest fd still open, or undefined. */
export function nextFd(p: Process): number | undefined {
  let low: number | undefined;
  for (const fd of p.fds.keys()) if (low === undefined || fd < low) low = fd;
  return low;
}

/** Closes one fd of an exiting process (exit_files -> put_files_struct -> filp_close). */
export function exitCloseFd(tx: Tx, p: Process, fd: number): void {
  const id = p.fds.get(fd)!;
  p.fds.delete(fd);
  fput(tx, id);
}

/** do_exit ends: the process is a zombie. */
export function finishExit(tx: Tx, p: Process): Outcome {
  tx.fire('process', String(p.pid), p, 'EXITED');
  return { ret: 0n, decidedBy: 'kernel/exit.c:do_exit' };
}

/** kernel/fork.c:__mmdrop -> mm_pasid_drop (the mm machine's pasidDrop action). */
export function pasidDrop(tx: Tx, mm: Mm): void {
  // Under the 2017 RFC a PASID nobody released with FLUSHED or CLEAN is never reused.
  releasePasid(tx, mm, tx.scheme.pasidFree === 'bind-task-flags' ? 'LEAK' : 'FREE', 'kernel/fork.c:__mmdrop -> mm_pasid_drop');
}

/** The mm's PASID goes back to the allocator (FREE) or is never reused (LEAK). */
export function releasePasid(tx: Tx, mm: Mm, how: 'FREE' | 'LEAK', why: string): void {
  if (mm.pasid === null) return;
  const entry = tx.world.pasids.get(mm.pasid)!;
  tx.fire('pasid', String(mm.pasid), entry, how);
  if (how === 'FREE') entry.mm = null;
  tx.emit(how === 'FREE' ? 'pasid.freed' : 'pasid.leaked', { pasid: mm.pasid, mm: mm.id, why });
  mm.pasid = null;
}

/** Whether any vfio_dma still pins pages of this anonymous vma. */
function pinned(tx: Tx, v: Vma): boolean {
  if (v.phys === null) return false;
  const lo = v.phys;
  const hi = v.phys + (v.end - v.start);
  for (const c of tx.world.containers.values()) {
    for (const d of c.type1?.dmas.valuesArray() ?? []) {
      if (d.extents.some((e) => e.kind === 'ram' && e.phys < hi && lo < e.phys + e.size)) return true;
      for (const pfn of d.pfnList.values()) if (pfn.phys >= lo && pfn.phys < hi) return true;
    }
  }
  return false;
}

/**
 * SPEC 1.3 `mm.reclaim`, after the invalidation: memory pressure reclaims or migrates the
 * range (mm/vmscan.c, mm/migrate.c via try_to_unmap). FOLL_LONGTERM-pinned pages are never
 * reclaimed or migrated. The model reclaims whole anonymous vmas inside the range.
 */
export function reclaimVmas(tx: Tx, pid: number, mm: Mm, start: bigint, end: bigint): Outcome {
  let freed = 0;
  for (const v of mm.vmas) {
    if (v.kind !== 'anon' || v.start < start || v.end > end || v.phys === null || pinned(tx, v)) continue;
    v.phys = null;
    freed += 1;
  }
  tx.emit('mm.reclaimed', { pid, start: hex(start), end: hex(end), vmas: freed });
  return { ret: 0n, decidedBy: 'mm/vmscan.c:shrink_folio_list (pinned folios are skipped)' };
}

/** The range the OOM reaper invalidates: from the lowest to the highest anonymous vma. */
export function anonSpan(mm: Mm): { start: bigint; end: bigint } | null {
  const anon = mm.vmas.filter((v) => v.kind === 'anon');
  if (anon.length === 0) return null;
  return { start: anon[0]!.start, end: anon[anon.length - 1]!.end };
}

/**
 * SPEC 1.3 `mm.oom_reap`, after the invalidation: mm/oom_kill.c:__oom_reap_task_mm frees the
 * anonymous memory of a victim (pinned pages stay).
 */
export function reapVmas(tx: Tx, pid: number, mm: Mm): Outcome {
  for (const v of mm.vmas) if (v.kind === 'anon' && !pinned(tx, v)) v.phys = null;
  mm.reaped = true;
  tx.emit('mm.oom_reaped', { pid, mm: mm.id });
  return { ret: 0n, decidedBy: 'mm/oom_kill.c:__oom_reap_task_mm' };
}
