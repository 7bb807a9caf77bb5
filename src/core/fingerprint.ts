/**
 * Canonical text and a 53-bit fingerprint of a world: the same world gives the same bytes,
 * whatever order its Maps were filled in. Used by the determinism tests and replay's report.
 */
import { isIovaTree } from './iova-tree.js';
import type { World } from './world.js';

/** A canonical JSON-like text: object keys and Map entries sorted, bigints as hex. */
export function canonical(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'bigint') return `"0x${v.toString(16)}"`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v instanceof Map) {
    const entries = [...v.entries()].map(([k, x]) => [canonical(k), canonical(x)] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return `{${entries.map(([k, x]) => `${k}:${x}`).join(',')}}`;
  }
  if (v instanceof Set) return canonical([...v].map(canonical).sort());
  // A B-tree's shape depends on its history; its content is its entries in key order.
  if (isIovaTree(v)) return canonical(v.valuesArray());
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
}

/** cyrb53: a fast 53-bit string hash (public domain, bryc). */
export function hash53(s: string, seed = 0): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < s.length; i += 1) {
    const ch = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

export function fingerprint(w: World): string {
  return hash53(canonical(w)).toString(16).padStart(14, '0');
}
