/**
 * JSON values from input, read safely: a record is at most MAX_DEPTH arrays and objects deep and
 * has no `__proto__` key at any depth (checked once, by the reader, without recursion), and a key
 * is looked up as the object's own property, never through Object.prototype (`constructor`,
 * `toString`, `__proto__` are not fields).
 */
import { fail, type Where } from '../vocab/errors.js';

/** How many arrays and objects a record may nest, itself included (docs/log-format.md, "Reading a log, and its limits"). */
export const MAX_DEPTH = 64;

/** `o[k]` when `o` has its own property `k`; undefined otherwise (never the prototype's). */
export function own(o: object, k: string): unknown {
  return Object.hasOwn(o, k) ? (o as Record<string, unknown>)[k] : undefined;
}

/**
 * Rejects a record nested deeper than MAX_DEPTH, naming the path to the first array or object
 * too deep, and a `__proto__` key anywhere (as an unknown field: JSON.parse makes it an own
 * property, and copying it to a new object would set that object's prototype instead).
 */
export function checkShape(rec: object, where: Where): void {
  // the walk keeps each container's key and parent, and spells a path only when it fails
  // (building one per value cost more than the walk itself on a long log)
  const stack: Node[] = [{ v: rec, depth: 1, key: '', parent: null }];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    if (top.depth > MAX_DEPTH) fail(where, pathOf(top), `nested deeper than ${MAX_DEPTH} arrays and objects`);
    const array = Array.isArray(top.v);
    const keys = Object.keys(top.v);
    for (const k of keys) {
      const x = (top.v as Record<string, unknown>)[k];
      if (!array && k === '__proto__') fail(where, pathOf({ v: top.v, depth: top.depth + 1, key: k, parent: top }), 'unknown field');
      if (typeof x === 'object' && x !== null) stack.push({ v: x, depth: top.depth + 1, key: array ? `[${k}]` : k, parent: top });
    }
  }
}

/** An array or object met by checkShape: its key in its parent (`[3]` in an array). */
interface Node {
  readonly v: object;
  readonly depth: number;
  readonly key: string;
  readonly parent: Node | null;
}

/** `arg.flags[0]`: the keys from the record down to `n`. */
function pathOf(n: Node): string {
  let path = '';
  for (let at: Node | null = n; at !== null && at.parent !== null; at = at.parent) {
    path = path === '' || path.startsWith('[') ? `${at.key}${path}` : `${at.key}.${path}`;
  }
  return path;
}
