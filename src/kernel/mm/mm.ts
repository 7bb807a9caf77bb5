import { initialState } from '../../core/stepper.js';
import { Tx } from '../../core/tx.js';
import { type Mm, newId, MMAP_BASE } from '../../core/world.js';

/**
 * The mm_struct's lifetime (kernel/fork.c): mm_count references (mmgrab/mmdrop), its PASID,
 * freed at __mmdrop (mm_pasid_drop), and the first backing of anonymous pages.
 */
export function newMm(tx: Tx): Mm {
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
  if (mm.count === 0) tx.fire('mm', String(mm.id), mm, 'LAST_REF_DROPPED');
}

/** kernel/fork.c:__mmdrop -> mm_pasid_drop (the mm machine's pasidDrop action). */
export function pasidDrop(tx: Tx, mm: Mm): void {
  // Under the 2017 RFC a PASID nobody released with FLUSHED or CLEAN is never reused.
  releasePasid(tx, mm, tx.policy.pasid.atMmdrop, 'kernel/fork.c:__mmdrop -> mm_pasid_drop');
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

/** Gives an anonymous vma its physical pages at the first fault or pin. */
export function backAnon(tx: Tx, vma: { start: bigint; end: bigint; phys: bigint | null }): void {
  vma.phys = tx.world.nextRamPhys;
  tx.world.nextRamPhys += vma.end - vma.start;
}
