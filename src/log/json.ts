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
  const stack: Array<{ readonly v: object; readonly path: string; readonly depth: number }> = [{ v: rec, path: '', depth: 1 }];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const { v, path, depth } = top;
    if (depth > MAX_DEPTH) fail(where, path, `nested deeper than ${MAX_DEPTH} arrays and objects`);
    const array = Array.isArray(v);
    for (const [k, x] of Object.entries(v)) {
      const at = array ? `${path}[${k}]` : path === '' ? k : `${path}.${k}`;
      if (!array && k === '__proto__') fail(where, at, 'unknown field');
      if (typeof x === 'object' && x !== null) stack.push({ v: x, path: at, depth: depth + 1 });
    }
  }
}
