/**
 * PasidNotReusedWhileLive: a PASID is never given to a new address space while a device may
 * still use it or has requests pending. Kernel rule: mm_pasid_drop runs in __mmdrop, not
 * __mmput ("mm: Fix PASID use-after-free issue"), so an mmgrab keeps the PASID allocated.
 */
import type { Touched } from '../../core/tx.js';

/** No PASID reuse while in use: the violation messages of a record's PASID allocations (none when it holds). */
export function pasidNotReusedWhileLive(t: Touched): string[] {
  const out: string[] = [];
  for (const a of t.pasidAllocations) {
    if (a.stillUsedBy.length > 0) out.push(`PASID ${a.pasid} given to mm ${a.mm} while ${a.stillUsedBy.join(', ')} may still use it`);
  }
  return out;
}
