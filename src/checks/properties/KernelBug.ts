/**
 * KernelBug: the model reached a kernel BUG_ON/WARN condition (e.g. type1's BUG_ON(++retries >
 * 10) in the unmap walk). Kernel rule: those conditions are never meant to be reachable; the
 * paths note each one they reach in the record's Touched.
 */
import type { Touched } from '../../core/tx.js';

/** No BUG_ON/WARN is reachable: the conditions a record reached (none when it holds). */
export function kernelBug(t: Touched): readonly string[] {
  return t.kernelBugs;
}
