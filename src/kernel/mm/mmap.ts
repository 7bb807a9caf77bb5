import { processOf, mmOf, fdFile, deviceOf, fileOf, vmaAt } from '../../core/lookup.js';
import { Tx, type Outcome } from '../../core/tx.js';
import type { Mm, Vma, World } from '../../core/world.js';
import { PAGE_SIZE, U64_MAX, isAligned, hex } from '../../log/u64.js';
import { type LockUse, lockOf, writeLock, readLock } from '../../vocab/locks.js';
import type { StimulusOf } from '../../vocab/records.js';
import { fput } from '../fs/file.js';
import { backAnon } from './mm.js';
import { assertHeld } from '../../core/locks.js';

/**
 * Address spaces (mm/mmap.c, mm/memory.c): mmap of anonymous memory or a device region, munmap's
 * checks and vma removal, and a CPU access that faults pages in.
 */
function insertVma(tx: Tx, mm: Mm, v: Vma): void {
  assertHeld(tx, lockOf.mmap(mm.id), `mm ${mm.id}'s vma tree`, 'write'); // mm/vma.c: vma_start_write before the tree store -> __is_vma_write_locked: mmap_assert_write_locked(vma->vm_mm)
  let i = mm.vmas.length;
  while (i > 0 && mm.vmas[i - 1]!.start > v.start) i -= 1;
  mm.vmas.splice(i, 0, v);
}

function overlaps(mm: Mm, start: bigint, end: bigint): boolean {
  return mm.vmas.some((v) => v.start < end && start < v.end);
}

/**
 * TASK_SIZE of a 64-bit x86 task with 4-level paging: TASK_SIZE_MAX = (1 << 47) - PAGE_SIZE
 * (arch/x86/include/asm/page_64_types.h, __VIRTUAL_MASK_SHIFT 47). No user mapping ends above it.
 */
export const TASK_SIZE = (1n << 47n) - PAGE_SIZE;

/** PAGE_ALIGN in unsigned long arithmetic: a length within a page of 2^64 wraps to 0. */
function pageAlign(len: bigint): bigint {
  return (len + PAGE_SIZE - 1n) & ~(PAGE_SIZE - 1n) & U64_MAX;
}

/** The lowest start at or above `from` of a free range of `len` bytes ending at or below TASK_SIZE. */
function lowestFree(mm: Mm, from: bigint, len: bigint): bigint | undefined {
  let addr = from;
  for (const v of mm.vmas) if (v.start < addr + len && addr < v.end) addr = v.end; // vmas are sorted and disjoint
  return addr <= TASK_SIZE - len ? addr : undefined;
}

/**
 * The `mmap` stimulus: anonymous memory, or a device region of a vfio device fd. With `addr` it is
 * MAP_FIXED_NOREPLACE (the range must be free); without, the model hands out the lowest free
 * range at or above its bump pointer (mm.nextMmap, from 0x7f0000000000), else the lowest free
 * range above PAGE_SIZE (arch_get_unmapped_area_topdown's low_limit), else -ENOMEM as
 * vm_unmapped_area gives when no gap is left. Checks in the kernel's order: sys_mmap, fget,
 * do_mmap, __get_unmapped_area, then f_op->mmap.
 */
export function mmap(tx: Tx, s: StimulusOf<'mmap'>): Outcome {
  const p = processOf(tx.world, s.pid);
  const mm = mmOf(tx.world, p.mm);
  const prot = s.prot ?? { read: true, write: true };
  const at = 'mm/mmap.c:do_mmap';
  const offset = s.offset ?? 0n;
  // arch/x86/kernel/sys_x86_64.c: SYSCALL_DEFINE6(mmap): `if (off & ~PAGE_MASK) return -EINVAL;`
  if (!isAligned(offset, PAGE_SIZE)) tx.fail('EINVAL', 'arch/x86/kernel/sys_x86_64.c:sys_mmap: off & ~PAGE_MASK');
  // mm/mmap.c:ksys_mmap_pgoff: `file = fget(fd); if (!file) return -EBADF;`
  const f = s.fd === undefined ? undefined : fdFile(tx, p, s.fd);
  if (s.length === 0n) tx.fail('EINVAL', `${at}: !len`);
  // "Careful about overflows..": `len = PAGE_ALIGN(len); if (!len) return -ENOMEM;`. The offset
  // overflow check `(pgoff + (len >> PAGE_SHIFT)) < pgoff` cannot fire: both are below 2^52.
  const length = pageAlign(s.length);
  if (length === 0n) tx.fail('ENOMEM', `${at}: PAGE_ALIGN(len) wraps to 0`);
  // __get_unmapped_area: `if (len > TASK_SIZE) return -ENOMEM;`
  if (length > TASK_SIZE) tx.fail('ENOMEM', 'mm/mmap.c:__get_unmapped_area: len > TASK_SIZE');
  let addr: bigint;
  if (s.addr !== undefined) {
    // MAP_FIXED_NOREPLACE sets MAP_FIXED, so arch_get_unmapped_area_topdown returns addr as it
    // is; then __get_unmapped_area: `if (addr > TASK_SIZE - len) return -ENOMEM; if
    // (offset_in_page(addr)) return -EINVAL;`, and do_mmap: `if (find_vma_intersection(mm,
    // addr, addr + len)) return -EEXIST;`
    addr = s.addr;
    if (addr > TASK_SIZE - length) tx.fail('ENOMEM', 'mm/mmap.c:__get_unmapped_area: addr > TASK_SIZE - len');
    if (!isAligned(addr, PAGE_SIZE)) tx.fail('EINVAL', 'mm/mmap.c:__get_unmapped_area: offset_in_page(addr)');
    if (overlaps(mm, addr, addr + length)) tx.fail('EEXIST', `${at}: MAP_FIXED_NOREPLACE range is in use`);
  } else {
    const free = lowestFree(mm, mm.nextMmap, length) ?? lowestFree(mm, PAGE_SIZE, length);
    if (free === undefined) tx.fail('ENOMEM', 'mm/mmap.c:vm_unmapped_area: no free range of len below TASK_SIZE');
    addr = free;
  }
  if (addr + length > mm.nextMmap) mm.nextMmap = addr + length;
  if (f === undefined) {
    insertVma(tx, mm, { start: addr, end: addr + length, prot, kind: 'anon', phys: null, state: 'anon' });
    tx.emit('vma.mapped', { pid: p.pid, start: hex(addr), end: hex(addr + length), kind: 'anon' });
    return { ret: addr, decidedBy: at };
  }
  if (f.kind !== 'device') tx.fail('ENODEV', `${at}: file has no mmap operation`);
  const v = tx.ops.mmapDevice(tx, deviceOf(tx.world, f.device!), f.id, addr, length, offset, prot); // f_op->mmap
  insertVma(tx, mm, v);
  f.refs += 1; // vma->vm_file = get_file(file)
  tx.emit('vma.mapped', { pid: p.pid, start: hex(addr), end: hex(addr + length), kind: 'bar', device: v.device!, bar: v.bar! });
  return { ret: addr, decidedBy: 'vfio_pci_core.c:vfio_pci_core_mmap' };
}

/** Whether any vma intersects [start, end). */
export function hasVmasIn(mm: Mm, start: bigint, end: bigint): boolean {
  return mm.vmas.some((v) => v.start < end && start < v.end);
}

/**
 * mm/mmap.c:do_vmi_align_munmap after the notifiers: split the vmas at the edges, remove the
 * pieces inside, and drop what each held (a BAR vma's device file).
 */
export function removeVmas(tx: Tx, mm: Mm, start: bigint, end: bigint): void {
  // The vmas are sorted and disjoint, so those in [start, end) are a run from the first that
  // ends above start, found by bisection; the vmas before and after it are kept as they are.
  const vmas = mm.vmas;
  let first = 0;
  for (let hi = vmas.length; first < hi; ) {
    const mid = (first + hi) >>> 1;
    if (vmas[mid]!.end <= start) first = mid + 1;
    else hi = mid;
  }
  let last = first;
  while (last < vmas.length && vmas[last]!.start < end) last += 1;
  const keep: Vma[] = [];
  const gone: Vma[] = [];
  for (let i = first; i < last; i += 1) {
    const v = vmas[i]!;
    if (v.start < start) keep.push(slice(v, v.start, start));
    if (v.end > end) keep.push(slice(v, end, v.end));
    // __split_vma -> vma_dup: each new piece of a file vma takes its own get_file().
    if (v.file !== undefined) fileOf(tx.world, v.file).refs += (v.start < start ? 1 : 0) + (v.end > end ? 1 : 0);
    gone.push(slice(v, v.start < start ? start : v.start, v.end > end ? end : v.end));
  }
  if (gone.length === 0) return;
  assertHeld(tx, lockOf.mmap(mm.id), `mm ${mm.id}'s vma tree`, 'write'); // every vma removal holds mmap_write_lock: do_vmi_munmap (vms_gather_munmap_vmas: vma_start_write -> mmap_assert_write_locked), exit_mmap (mmap_write_lock before remove_vma)
  mm.vmas = [...vmas.slice(0, first), ...keep, ...vmas.slice(last)];
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
  if (v.pages !== undefined) out.pages = v.pages.filter((a) => start <= a && a < end);
  if (pgoff !== undefined) (out as { pgoff?: bigint }).pgoff = pgoff;
  return out;
}

/**
 * The `munmap` stimulus: the checks of mm/vma.c:do_vmi_munmap (mm/mmap.c before v6.12); returns the
 * page-aligned range: `if ((offset_in_page(start)) || start > TASK_SIZE || len > TASK_SIZE-start)
 * return -EINVAL; end = start + PAGE_ALIGN(len); if (end == start) return -EINVAL;`
 */
export function munmapRange(tx: Tx, s: StimulusOf<'munmap'>): { readonly start: bigint; readonly end: bigint } {
  const at = 'mm/vma.c:do_vmi_munmap';
  if (!isAligned(s.addr, PAGE_SIZE)) tx.fail('EINVAL', `${at}: offset_in_page(start)`);
  if (s.addr > TASK_SIZE || s.length > TASK_SIZE - s.addr) tx.fail('EINVAL', `${at}: start > TASK_SIZE || len > TASK_SIZE - start`);
  const end = s.addr + pageAlign(s.length);
  if (end === s.addr) tx.fail('EINVAL', `${at}: end == start (len == 0)`);
  return { start: s.addr, end };
}

const pageOf = (addr: bigint): bigint => addr & ~(PAGE_SIZE - 1n);

/** Whether the BAR vma has the PTE of the page at `addr`. */
export function barPagePresent(v: Vma, addr: bigint): boolean {
  return (v.pages ?? []).includes(pageOf(addr));
}

/** The pages of [from, to) whose PTEs the BAR vma lacks, ascending. */
export function barPagesMissing(v: Vma, from: bigint, to: bigint): bigint[] {
  const out: bigint[] = [];
  for (let a = pageOf(from); a < to; a += PAGE_SIZE) if (!barPagePresent(v, a)) out.push(a);
  return out;
}

/** The `touch` stimulus: a CPU access; mm/memory.c:handle_mm_fault. */
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
  if (barPagePresent(v, s.addr)) return { ret: 0n, decidedBy: 'the BAR PTE is present' };
  if (!tx.ops.faultBar(tx, p, v, s.addr)) return { signal: 'SIGBUS', decidedBy: 'vfio_pci_core.c:vfio_pci_mmap_huge_fault: runtime PM engaged or memory disabled -> VM_FAULT_SIGBUS' };
  return { ret: 0n, decidedBy: 'vfio_pci_core.c:vfio_pci_mmap_huge_fault: vmf_insert_pfn' };
}

/** mmap runs under mmap_write_lock (vm_mmap_pgoff). */
export function mmapLocks(w: World, s: StimulusOf<'mmap'>): LockUse[] {
  const p = w.processes.get(s.pid);
  return p === undefined ? [] : [writeLock(lockOf.mmap(p.mm))];
}

/**
 * The page fault holds mmap_lock for read; vfio_pci_mmap_huge_fault takes the device's
 * memory_lock for read when the BAR vma has no PTE for the address.
 */
export function touchLocks(w: World, s: StimulusOf<'touch'>): LockUse[] {
  const p = w.processes.get(s.pid);
  if (p === undefined) return [];
  const v = vmaAt(w.mms.get(p.mm)!, s.addr);
  return [readLock(lockOf.mmap(p.mm)), ...(v?.kind === 'bar' && !barPagePresent(v, s.addr) ? [readLock(lockOf.memory(v.device!))] : [])];
}
