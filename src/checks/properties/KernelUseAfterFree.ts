/**
 * KernelUseAfterFree (a violation name): a kernel path used an object after another path freed
 * it, typically because it kept a pointer across a step in which it had dropped the lock that
 * protected the object. Kernel rule: a pointer is valid only while a lock or a reference keeps
 * the object alive (what KASAN's slab-use-after-free reports break); the paths check each
 * pointer they keep in their locals before they use it (src/core/lifetimes.ts).
 */
import type { Touched } from '../../core/tx.js';

/** No pointer used after its object was freed: the uses a record made (none when it holds). */
export function kernelUseAfterFree(t: Touched): readonly string[] {
  return t.useAfterFree;
}
