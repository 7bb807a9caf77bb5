/**
 * How the explorer makes successor worlds and fingerprints them, in one of two ways that merge
 * the same states:
 * - `incremental` (the default): copy-on-write successors (src/core/cow.ts) and structural
 *   fingerprints cached per object (src/core/hash.ts): a step costs what it changes;
 * - `reference`: a deep copy per successor (src/core/clone.ts) and the hash of the whole world's
 *   canonical text (src/core/fingerprint.ts worldHash): what the explorer did before, kept to
 *   measure against and to test with.
 * The two give different fingerprint values: a checkpoint's visited set is of one of them.
 */
import { cloneWorld } from './clone.js';
import { adopt, seal, successor } from './cow.js';
import { worldHash } from './fingerprint.js';
import { StateHasher } from './hash.js';
import type { World } from './world.js';

export type FingerprintMode = 'incremental' | 'reference';

export interface StateSpace {
  /** The world the search starts from, ready to be expanded (never written again), and its fingerprint. */
  root(w: World): { readonly world: World; readonly fingerprint: number };
  /** A copy of a world that one step may change. */
  child(parent: World): World;
  /** Ends that step: the child is not written again. Returns its fingerprint. */
  close(child: World, parent: World): number;
}

export function stateSpace(mode: FingerprintMode = 'incremental'): StateSpace {
  if (mode === 'reference') {
    return { root: (w) => ({ world: w, fingerprint: worldHash(w) }), child: cloneWorld, close: (c) => worldHash(c) };
  }
  const hasher = new StateHasher();
  return {
    root: (w) => {
      const world = adopt(w);
      return { world, fingerprint: hasher.hash(world) };
    },
    child: successor,
    close: (c, p) => {
      seal(c, p);
      return hasher.hash(c);
    },
  };
}
