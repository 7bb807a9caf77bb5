/**
 * A deep copy of a world, for the explorer's successor states. Handles what the world is made
 * of: Maps, arrays, plain objects, bigints and the IOVA trees (whose values are copied too,
 * since rules change dmas in place).
 */
import { isIovaTree, iovaTree, type IovaTree } from './iova-tree.js';
import type { World } from './world.js';

/** A deep copy of one value of a world (an entry of one of its Maps, say). */
export function copy(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(copy);
  if (v instanceof Map) {
    const m = new Map();
    for (const [k, x] of v) m.set(k, copy(x));
    return m;
  }
  if (isIovaTree(v)) {
    const t: IovaTree<unknown> = iovaTree();
    v.forEachPair((k, x) => {
      t.set(k, copy(x));
    });
    return t;
  }
  const o: Record<string, unknown> = {};
  for (const k of Object.keys(v)) o[k] = copy((v as Record<string, unknown>)[k]);
  return o;
}

export function cloneWorld(w: World): World {
  return copy(w) as World;
}
