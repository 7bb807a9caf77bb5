/**
 * The names of the properties and what each means: the vocabulary that logs (`violates`,
 * `exercises`), schemes' expectations, the checks and the CLI share. Imports nothing, so every
 * layer can use it; the checks themselves are in src/checks/properties/.
 */

export const PROPERTY_NAMES = [
  'NoOverlap',
  'NoDmaUseAfterFree',
  'NoDmaToDisabledMmio',
  'IsolationBreach',
  'LockedVmConserved',
  'PasidNotReusedWhileLive',
  'FaultsAnswered',
  'MsiWindowIntact',
  'NoDeadlock',
  'TeardownCompletes',
  'LockOrder',
  'NoBlockInNonBlockable',
  'KernelUseAfterFree',
  'ProtectedByLock',
  'KernelBug',
] as const;

export type PropertyName = (typeof PROPERTY_NAMES)[number];

export const GLOSS: Record<PropertyName, string> = {
  NoOverlap: 'the live vfio_dma ranges of one container never overlap (vfio_dma_do_map: EEXIST)',
  NoDmaUseAfterFree: 'every translated device DMA lands on RAM still pinned for that mapping (unpin after IOTLB sync)',
  NoDmaToDisabledMmio: 'no translated DMA lands on a BAR whose decode is off, whose device is gone, or that the mapping owner no longer holds open',
  IsolationBreach: 'a device reached memory no mapping granted (noiommu)',
  LockedVmConserved: "each live mm's locked_vm equals the non-reserved pages pinned and charged to it",
  PasidNotReusedWhileLive: 'a PASID is never given to a new address space while a device may still use it or has requests pending',
  FaultsAnswered: 'every page request gets exactly one response, and none is left at teardown',
  MsiWindowIntact: 'the MSI window is never mapped over or unmapped by user DMA mappings',
  NoDeadlock: 'no reachable state in which a task waits forever',
  TeardownCompletes: 'once every process has exited and every device is unbound, nothing is left',
  LockOrder: 'the lock-class dependency graph over all explored steps has no cycle',
  NoBlockInNonBlockable: 'a non-blockable invalidation callback never sleeps or waits',
  KernelUseAfterFree: 'a kernel path used an object (a vfio_dma, an SVA bond) after another path freed it, typically after dropping the lock that protected it',
  ProtectedByLock: 'every change to a structure the kernel protects with a lock happens with that lock held, as lockdep_assert_held asserts',
  KernelBug: 'the model reached a kernel BUG_ON/WARN condition',
};

/**
 * The properties named for the hazard they look for rather than for the rule that excludes it:
 * "IsolationBreach holds" reads backwards, so their verdicts read `none` and `found`.
 */
export const NAMED_FOR_HAZARD: ReadonlySet<PropertyName> = new Set<PropertyName>(['IsolationBreach', 'KernelUseAfterFree', 'KernelBug']);

/** A verdict in words that read as what they say: `NoDeadlock holds`, `KernelBug: none`, `KernelBug: found`. */
export function verdictWord(p: PropertyName, v: 'holds' | 'violated' | 'unknown'): string {
  if (NAMED_FOR_HAZARD.has(p)) return v === 'holds' ? 'none' : v === 'violated' ? 'found' : 'none so far';
  return v === 'holds' ? 'holds' : v === 'violated' ? 'VIOLATED' : 'not violated so far';
}

/** `NoDeadlock holds`, `KernelBug: none`: the property and its verdict as one phrase (`shown` styles the word). */
export function verdictPhrase(p: PropertyName, v: 'holds' | 'violated' | 'unknown', shown: (word: string) => string = (w) => w): string {
  return `${p}${NAMED_FOR_HAZARD.has(p) ? ':' : ''} ${shown(verdictWord(p, v))}`;
}
