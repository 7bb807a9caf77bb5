/**
 * A step's footprint, measured: every place in the world it read (to decide whether it can run,
 * to run, and for the checks after it) and every place it changed. Partial-order reduction
 * (src/run/reduction.ts) calls two steps independent when neither changed a place the other read
 * or changed; docs/concurrency.md ("Partial-order reduction") gives the argument.
 *
 * A place is a path from the world's root: `.containers[n:3].type1.v2`. The step runs on a
 * tracking view of its (already cloned) world: plain objects, arrays and Maps are wrapped in
 * Proxies that record each read and each write with its path. A value the view cannot see into
 * (an IOVA B-tree, a frozen object, any class instance) is an atom: reading it records a read of
 * the whole, and whether the step changed it is decided afterwards by comparing it with the same
 * place in the world before the step (which the explorer keeps: it steps a clone).
 *
 * What is recorded is an over-approximation: a read of a value the step did not need is still a
 * read, and a write of the same value is still a write. Under-approximating would be unsound;
 * over-approximating only prunes less.
 */
import { isIovaTree } from '../core/iova-tree.js';
import type { World } from '../core/world.js';

/** A path segment's separator; it is in no property name or key the model uses. */
const SEP = '\u0000';

export interface Footprint {
  /** Places written (set, deleted, or an atom whose content changed). */
  readonly writes: readonly string[];
  /** Each write's parent place: a key set read there sees the write. */
  readonly parents: readonly string[];
  /** Every place read or written, exactly. */
  readonly places: ReadonlySet<string>;
  /** Places whose set of keys was read (Object.keys, a Map's iteration or size). */
  readonly keys: ReadonlySet<string>;
}

/** A map key, as a step in a path from the root (a property name is the other kind). */
class MapKey {
  constructor(readonly key: unknown) {}
}

function seg(k: unknown): string {
  if (k instanceof MapKey) return `${SEP}m${seg(k.key).slice(1)}`;
  switch (typeof k) {
    case 'string':
      return `${SEP}s${k}`;
    case 'number':
      return `${SEP}n${k}`;
    case 'bigint':
      return `${SEP}b${k.toString(16)}`;
    case 'boolean':
      return `${SEP}o${k}`;
    default:
      // an object key: the model has none; identity cannot be a path, so treat it as unknown
      return `${SEP}?`;
  }
}

/**
 * Whether a step with footprint `a` and one with footprint `b` touch a common place: one wrote a
 * place the other read or wrote, or added or removed a key of a key set the other read.
 *
 * The recorded places are closed under prefixes (a step reaches `.mms[1].vmas` only by reading
 * `.mms[1]` and `.mms`), and an atom is one place however deep the change inside it; so a write
 * above or below a place the other step used always meets one of that step's places exactly.
 */
export function conflict(a: Footprint, b: Footprint): boolean {
  return writeHit(a, b) !== null || writeHit(b, a) !== null;
}

/** The first place `a` wrote that `b` read or wrote (readable: `.containers[3].refs`), or null. */
export function conflictAt(a: Footprint, b: Footprint): string | null {
  const w = writeHit(a, b) ?? writeHit(b, a);
  return w === null ? null : showPlace(w);
}

/** A place as text: `.mms[1].lockedVm`. */
export function showPlace(p: string): string {
  return p
    .split(SEP)
    .slice(1)
    .map((x) => {
      const m = x[0] === 'm';
      const y = m ? x.slice(1) : x;
      if (y[0] === 's' && !m) return `.${y.slice(1)}`;
      return y[0] === 'b' ? `[0x${y.slice(1)}]` : `[${y.slice(1)}]`;
    })
    .join('');
}

function writeHit(a: Footprint, b: Footprint): string | null {
  const { writes, parents } = a;
  for (let i = 0; i < writes.length; i += 1) {
    if (b.places.has(writes[i]!) || b.keys.has(parents[i]!)) return writes[i]!;
  }
  return null;
}

/** Structural equality of two atoms (or any world values). */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (isIovaTree(a)) {
    if (!isIovaTree(b) || a.size !== b.size) return false;
    const ka = a.keysArray();
    const kb = b.keysArray();
    const va = a.valuesArray();
    const vb = b.valuesArray();
    return ka.every((k, i) => k === kb[i] && same(va[i], vb[i]));
  }
  if (a instanceof Map) {
    if (!(b instanceof Map) || a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !same(v, b.get(k))) return false;
    return true;
  }
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((v, i) => same(v, b[i]));
  if (Array.isArray(b) || Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  const bo = b as Record<string, unknown>;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(bo, k) && same((a as Record<string, unknown>)[k], bo[k]));
}

const MAP_READS = new Set<PropertyKey>(['get', 'has']);
const MAP_ITER = new Set<PropertyKey>(['keys', 'values', 'entries', 'forEach', Symbol.iterator]);

/** A place's path and the keys from the root that lead to it (to find it in the world before). */
interface Place {
  readonly path: string;
  readonly keys: readonly unknown[];
  /** Its children's paths (properties, or a Map's entries), made once. */
  readonly child: Map<unknown, string>;
  readonly entry: Map<unknown, string>;
}

const childPath = (at: Place, k: unknown): string => {
  const cache = k instanceof MapKey ? at.entry : at.child;
  const id = k instanceof MapKey ? k.key : k;
  let p = cache.get(id);
  if (p === undefined) {
    p = at.path + seg(k);
    cache.set(id, p);
  }
  return p;
};

/**
 * A tracking view of `post` (the world a step is about to change; `pre` is the world before,
 * untouched). Run the step and its checks on `view`, then call `footprint()` once.
 */
export class Tracker {
  readonly view: World;
  private readonly reads = new Set<string>();
  private readonly keyReads = new Set<string>();
  private readonly writes = new Set<string>();
  /** Atoms read: path -> the keys from the root, to find the same place in `pre`. */
  private readonly atoms = new Map<string, readonly unknown[]>();
  private readonly proxies = new WeakMap<object, object>();
  private readonly targets = new WeakMap<object, object>();
  private open = true;

  constructor(
    private readonly pre: World,
    private readonly post: World,
  ) {
    this.view = this.wrap(post, { path: '', keys: [], child: new Map(), entry: new Map() }, undefined) as World;
  }

  /**
   * A value about to be stored in the world, with every view in it replaced by what it views:
   * the world keeps plain data (a new object built from values read through views holds views).
   */
  private unwrap<T>(v: T, seen = new Set<object>()): T {
    if (typeof v !== 'object' || v === null) return v;
    const target = this.targets.get(v);
    if (target !== undefined) return target as T;
    if (seen.has(v)) return v;
    seen.add(v);
    if (v instanceof Map) {
      for (const [k, x] of v) if (typeof x === 'object' && x !== null) v.set(k, this.unwrap(x, seen));
    } else if (Array.isArray(v) || Object.getPrototypeOf(v) === Object.prototype) {
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) {
        const x = o[k];
        if (typeof x === 'object' && x !== null) o[k] = this.unwrap(x, seen);
      }
    }
    return v;
  }

  /**
   * The value `v` read at key `k` of `at` (at itself when k is undefined): a tracking view of it,
   * or itself (a primitive; an atom, recorded as read whole).
   */
  private wrap(v: unknown, at: Place, k: unknown): unknown {
    if (typeof v !== 'object' || v === null) return v;
    const known = this.proxies.get(v);
    if (known !== undefined) return known;
    const path = k === undefined ? at.path : childPath(at, k);
    const keys = k === undefined ? at.keys : [...at.keys, k];
    const plain = Array.isArray(v) || v instanceof Map || Object.getPrototypeOf(v) === Object.prototype;
    if (!plain || Object.isFrozen(v)) {
      if (this.open && !this.atoms.has(path)) this.atoms.set(path, keys);
      return v;
    }
    const place: Place = { path, keys, child: new Map(), entry: new Map() };
    const p = v instanceof Map ? this.mapView(v, place) : this.objectView(v as Record<PropertyKey, unknown>, place);
    this.proxies.set(v, p);
    this.targets.set(p, v);
    return p;
  }

  private objectView(o: Record<PropertyKey, unknown>, at: Place): object {
    return new Proxy(o, {
      get: (t, prop) => {
        if (typeof prop === 'symbol') return Reflect.get(t, prop);
        // a prototype member (an array method, `constructor`): not the world's data
        if (!Object.prototype.hasOwnProperty.call(t, prop) && prop in t) return Reflect.get(t, prop);
        if (this.open) this.reads.add(childPath(at, prop));
        return this.wrap(t[prop], at, prop);
      },
      has: (t, prop) => {
        if (typeof prop !== 'symbol' && this.open) this.reads.add(childPath(at, prop));
        return Reflect.has(t, prop);
      },
      ownKeys: (t) => {
        if (this.open) this.keyReads.add(at.path);
        return Reflect.ownKeys(t);
      },
      set: (t, prop, value) => {
        if (typeof prop !== 'symbol' && this.open) this.writes.add(childPath(at, prop));
        return Reflect.set(t, prop, this.unwrap(value));
      },
      deleteProperty: (t, prop) => {
        if (typeof prop !== 'symbol' && this.open) this.writes.add(childPath(at, prop));
        return Reflect.deleteProperty(t, prop);
      },
      defineProperty: (t, prop, d) => {
        if (typeof prop !== 'symbol' && this.open) this.writes.add(childPath(at, prop));
        return Reflect.defineProperty(t, prop, 'value' in d ? { ...d, value: this.unwrap(d.value) } : d);
      },
    });
  }

  private mapView(m: Map<unknown, unknown>, at: Place): object {
    const key = (k: unknown): MapKey => new MapKey(k);
    const readEntry = (k: unknown): void => {
      if (this.open) this.reads.add(childPath(at, key(k)));
    };
    const iterate = (): Array<[unknown, unknown]> => {
      if (this.open) this.keyReads.add(at.path);
      return [...m].map(([k, v]) => {
        readEntry(k);
        return [k, this.wrap(v, at, key(k))];
      });
    };
    return new Proxy(m, {
      get: (t, prop) => {
        if (prop === 'size') {
          if (this.open) this.keyReads.add(at.path);
          return t.size;
        }
        if (MAP_READS.has(prop)) {
          return (k: unknown) => {
            readEntry(k);
            return prop === 'has' ? t.has(k) : this.wrap(t.get(k), at, key(k));
          };
        }
        if (prop === 'set' || prop === 'delete') {
          return (k: unknown, v?: unknown) => {
            if (this.open) this.writes.add(childPath(at, key(k)));
            if (prop === 'delete') return t.delete(k);
            t.set(k, this.unwrap(v));
            return this.proxies.get(m);
          };
        }
        if (prop === 'clear') {
          return () => {
            for (const k of t.keys()) if (this.open) this.writes.add(childPath(at, key(k)));
            t.clear();
          };
        }
        if (MAP_ITER.has(prop)) {
          if (prop === 'forEach') return (f: (v: unknown, k: unknown, mm: unknown) => void) => iterate().forEach(([k, v]) => f(v, k, this.proxies.get(m)));
          const pick = prop === 'keys' ? ([k]: [unknown, unknown]) => k : prop === 'values' ? ([, v]: [unknown, unknown]) => v : (e: [unknown, unknown]) => e;
          return () => iterate().map(pick)[Symbol.iterator]();
        }
        return Reflect.get(t, prop, t);
      },
    });
  }

  /** Stops recording and returns what the step (and its checks) read and wrote. */
  footprint(): Footprint {
    this.open = false;
    const writes = this.writes;
    for (const [p, keys] of this.atoms) if (!same(at(this.pre, keys), at(this.post, keys))) writes.add(p);
    const places = this.reads;
    for (const p of this.keyReads) places.add(p);
    for (const p of this.atoms.keys()) places.add(p);
    for (const p of writes) places.add(p);
    const ws = [...writes];
    return { writes: ws, parents: ws.map((w) => w.slice(0, w.lastIndexOf(SEP))), places, keys: this.keyReads };
  }
}

/** The value at a place, found by its keys from the root (undefined where the path ends). */
function at(root: unknown, keys: readonly unknown[]): unknown {
  let v = root;
  for (const k of keys) {
    if (v === null || v === undefined) return undefined;
    if (k instanceof MapKey) v = (v as Map<unknown, unknown>).get(k.key);
    else v = (v as Record<PropertyKey, unknown>)[k as PropertyKey];
  }
  return v;
}
