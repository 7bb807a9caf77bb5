/**
 * The explorer's 53-bit state fingerprint, computed from the world's structure instead of its
 * canonical text (src/core/fingerprint.ts, which replay's reported `fingerprint` still uses):
 *
 * - a number, bigint, string, boolean or null hashes by type and value; an array and an IOVA
 *   tree (in key order) as the ordered sequence of their elements' hashes;
 * - an object and a Map as an order-independent combination of their entries, each entry the
 *   hash of (key, value): the sum, in two 32-bit lanes, of the entries' 53-bit hashes. Nothing is
 *   sorted, and an entry can be taken out of the sum or put in without the others;
 * - the fingerprint holds the kernel state alone, as worldHash does: a task's `stopped`, a
 *   record's line, comment and expect, and an outcome's decidedBy are left out. Unlike worldHash
 *   a record's seq is hashed as itself, not as its rank among the live records: within one
 *   scenario a task's live records are a suffix of its records in log order, fixed by how many
 *   there are, so the two merge exactly the same states (test/explore/fingerprint.test.ts checks
 *   the counts on every built-in scenario).
 *
 * `StateHasher` caches the hash of each object it has seen, by identity, and keeps each CowMap's
 * sum (src/core/cow.ts): a successor's fingerprint costs what its step changed. It may only be
 * given worlds that are never written again (sealed ones). `stateHash` is the same function
 * computed from scratch, with no cache: the reference the tests compare it with.
 */
import { isIovaTree } from './iova-tree.js';
import { CowMap } from './cow.js';
import type { World } from './world.js';

const imul = Math.imul;
const TWO32 = 4294967296;

const T_NULL = 1;
const T_TRUE = 2;
const T_FALSE = 3;
const T_NUM = 4;
const T_BIG = 5;
const T_STR = 6;
const T_ARR = 7;
const T_OBJ = 8;
const T_MAP = 9;
const T_TREE = 10;
const T_ENTRY = 11;
const T_WORLD = 12;

/** murmur3's round (lane 1) and xxhash32's (lane 2): each word moves every bit of both lanes. */
function r1(h: number, w: number): number {
  let k = imul(w, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (imul(h, 5) + 0xe6546b64) | 0;
}

function r2(h: number, w: number): number {
  h = (h + imul(w, 0x85ebca77)) | 0;
  h = (h << 13) | (h >>> 19);
  return imul(h, 0x9e3779b1);
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function fin(h1: number, h2: number): number {
  const a = fmix(h1 ^ imul(h2, 0x27d4eb2f));
  const b = fmix(h2 ^ a);
  return TWO32 * (b & 0x1fffff) + (a >>> 0);
}

/** The hash of a tag and two 32-bit words. */
function words(tag: number, lo: number, hi: number): number {
  return fin(r1(r1(r1(0x2545f491, tag), lo), hi), r2(r2(r2(0x6a09e667, tag), lo), hi));
}

/** The hash of an entry (key hash, value hash). */
function pair(k: number, v: number): number {
  let h1 = r1(0x2545f491, T_ENTRY);
  let h2 = r2(0x6a09e667, T_ENTRY);
  h1 = r1(r1(h1, k >>> 0), (k / TWO32) >>> 0);
  h2 = r2(r2(h2, k >>> 0), (k / TWO32) >>> 0);
  h1 = r1(r1(h1, v >>> 0), (v / TWO32) >>> 0);
  h2 = r2(r2(h2, v >>> 0), (v / TWO32) >>> 0);
  return fin(h1, h2);
}

const strings = new Map<string, number>();

function hashString(s: string): number {
  let h = strings.get(s);
  if (h !== undefined) return h;
  let h1 = r1(0x2545f491, T_STR);
  let h2 = r2(0x6a09e667, T_STR ^ s.length);
  for (let i = 0; i < s.length; i += 1) {
    const c = s.charCodeAt(i);
    h1 = r1(h1, c);
    h2 = r2(h2, c);
  }
  h = fin(h1, h2);
  if (strings.size > 1 << 16) strings.clear();
  strings.set(s, h);
  return h;
}

const BIG53 = 1n << 53n;

function hashPrimitive(v: unknown): number {
  switch (typeof v) {
    case 'number':
      return Number.isSafeInteger(v) && v >= 0 ? words(T_NUM, v >>> 0, (v / TWO32) >>> 0) : words(T_NUM, hashString(String(v)) >>> 0, 1 << 31);
    case 'bigint':
      if (v >= 0n && v < BIG53) {
        const n = Number(v);
        return words(T_BIG, n >>> 0, (n / TWO32) >>> 0);
      }
      return words(T_BIG, hashString(v.toString(16)) >>> 0, 1 << 31);
    case 'string':
      return hashString(v);
    case 'boolean':
      return v ? words(T_TRUE, 0, 0) : words(T_FALSE, 0, 0);
    default:
      return words(T_NULL, 0, 0);
  }
}

/** A sum of entry hashes, in two lanes, and its hash under a tag. */
class Sum {
  lo = 0;
  hi = 0;
  add(e: number): void {
    this.lo = (this.lo + (e >>> 0)) | 0;
    this.hi = (this.hi + ((e / TWO32) >>> 0)) | 0;
  }
  sub(e: number): void {
    this.lo = (this.lo - (e >>> 0)) | 0;
    this.hi = (this.hi - ((e / TWO32) >>> 0)) | 0;
  }
  hash(tag: number): number {
    return words(tag, this.lo, this.hi);
  }
}

/** What a kind of object leaves out of its hash, and how it hashes its own fields. */
type Special = (h: Hasher, k: string, v: unknown) => number | null;

const RECORD_SKIP = new Set(['line', 'comment', 'expect']);
const OUTCOME_SKIP = new Set(['decidedBy']);

/** A record as the kernel sees it (fingerprint.ts recordState, with its seq as itself). */
const recordFields: Special = (_h, k) => (RECORD_SKIP.has(k) ? 0 : null);
const outcomeFields: Special = (_h, k) => (OUTCOME_SKIP.has(k) ? 0 : null);
const ctxFields: Special = (h, k, v) => (k === 'outcome' && v !== null && typeof v === 'object' ? h.object(v as Record<string, unknown>, outcomeFields) : null);
const pathFields: Special = (h, k, v) => {
  if (k === 'stimulus') return h.object(v as Record<string, unknown>, recordFields);
  if (k === 'ctx') return h.object(v as Record<string, unknown>, ctxFields);
  return null;
};
const taskFields: Special = (h, k, v) => {
  if (k === 'stopped') return 0;
  if (k === 'queue') return h.sequence((v as Record<string, unknown>[]).map((s) => h.object(s, recordFields)), T_ARR);
  if (k === 'current') return v === null ? hashPrimitive(null) : h.object(v as Record<string, unknown>, pathFields);
  return null;
};

class Hasher {
  /** Hashes by object identity, for each way of hashing it (null: from scratch). */
  constructor(private readonly cache: Map<Special | null, WeakMap<object, number>> | null) {}

  private memo(special: Special | null): WeakMap<object, number> | null {
    if (this.cache === null) return null;
    let m = this.cache.get(special);
    if (m === undefined) {
      m = new WeakMap();
      this.cache.set(special, m);
    }
    return m;
  }

  sequence(hs: readonly number[], tag: number): number {
    let h1 = r1(0x2545f491, tag);
    let h2 = r2(0x6a09e667, tag ^ hs.length);
    for (const x of hs) {
      h1 = r1(r1(h1, x >>> 0), (x / TWO32) >>> 0);
      h2 = r2(r2(h2, x >>> 0), (x / TWO32) >>> 0);
    }
    return fin(h1, h2);
  }

  value(v: unknown): number {
    if (v === null || typeof v !== 'object') return hashPrimitive(v);
    const memo = this.memo(null);
    const hit = memo?.get(v);
    if (hit !== undefined) return hit;
    let h: number;
    if (Array.isArray(v)) h = this.sequence(v.map((x) => this.value(x)), T_ARR);
    else if (v instanceof Map) h = this.map(v, null).hash(T_MAP);
    else if (isIovaTree(v)) h = this.sequence(v.valuesArray().map((x) => this.value(x)), T_TREE);
    else return this.object(v as Record<string, unknown>, null);
    memo?.set(v, h);
    return h;
  }

  /** An object's fields, order-independently; `special` hashes (or, with 0, leaves out) some of them. */
  object(o: Record<string, unknown>, special: Special | null): number {
    const memo = this.memo(special);
    const hit = memo?.get(o);
    if (hit !== undefined) return hit;
    const s = new Sum();
    for (const k of Object.keys(o)) {
      const v = o[k];
      if (v === undefined) continue;
      const own = special === null ? null : special(this, k, v);
      if (own === 0) continue;
      s.add(pair(hashString(k), own ?? this.value(v)));
    }
    const h = s.hash(T_OBJ);
    memo?.set(o, h);
    return h;
  }

  entry(k: unknown, v: unknown, special: Special | null): number {
    const hv = special !== null && v !== null && typeof v === 'object' ? this.object(v as Record<string, unknown>, special) : this.value(v);
    return pair(hashPrimitive(k), hv);
  }

  /** A Map's entry sum: kept on a CowMap, and for a successor's, its parent's sum plus what the step changed. */
  map(m: ReadonlyMap<unknown, unknown>, special: Special | null): Sum {
    const s = new Sum();
    if (m instanceof CowMap && this.cache !== null) {
      if (m.summed) {
        s.lo = m.sumLo;
        s.hi = m.sumHi;
        return s;
      }
      const p = m.parent;
      if (p instanceof CowMap && p.summed && m.dirty !== null && !m.writable) {
        s.lo = p.sumLo;
        s.hi = p.sumHi;
        for (const k of m.dirty) {
          const was: unknown = p.raw(k);
          const now: unknown = m.raw(k);
          if (was === now) continue;
          if (p.has(k)) s.sub(this.entry(k, was, special));
          if (m.has(k)) s.add(this.entry(k, now, special));
        }
      } else {
        for (const k of Map.prototype.keys.call(m)) s.add(this.entry(k, m.raw(k), special));
      }
      if (!m.writable) {
        m.sumLo = s.lo;
        m.sumHi = s.hi;
        m.summed = true;
        m.release();
      }
      return s;
    }
    const raw = m instanceof CowMap ? (k: unknown) => m.raw(k) : (k: unknown) => m.get(k);
    for (const k of Map.prototype.keys.call(m)) s.add(this.entry(k, raw(k), special));
    return s;
  }

  world(w: World): number {
    const o = w as unknown as Record<string, unknown>;
    const s = new Sum();
    for (const k of Object.keys(o)) {
      const v = o[k];
      if (v === undefined) continue;
      const h = v instanceof Map ? this.map(v, k === 'tasks' ? taskFields : null).hash(T_MAP) : this.value(v);
      s.add(pair(hashString(k), h));
    }
    return s.hash(T_WORLD);
  }
}

/** The fingerprint of a world, from scratch (no cache): the reference for StateHasher. */
export function stateHash(w: World): number {
  return new Hasher(null).world(w);
}

/** Fingerprints of sealed worlds (src/core/cow.ts), each costing what its step changed. */
export class StateHasher {
  private readonly h = new Hasher(new Map());
  hash(w: World): number {
    return this.h.world(w);
  }
}
