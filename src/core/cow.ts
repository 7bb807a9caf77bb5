/**
 * Copy-on-write worlds for the explorer: a successor shares every object of its parent that its
 * step leaves alone, instead of being a deep copy of the whole world (src/core/clone.ts).
 *
 * - `successor(parent)`: the top-level Maps become CowMaps over the parent's entries; the other
 *   top-level objects (iommu, bonds, pageRequests: small) are deep-copied. While the step runs the
 *   world is writable, and the first read of a Map entry (get, or any iteration over values)
 *   replaces it by a private deep copy, because kernel code changes the objects it gets in place
 *   (`const dma = ...get(); dma.size -= ...`): no write site needs to know about sharing.
 * - `seal(child, parent)` after the step: wherever a copy deep-equals the parent's object, the
 *   parent's object is put back (an entry the step only read is shared again, and so is every
 *   unchanged part of one it changed: an Mm whose locked_vm changed keeps its parent's vmas), and
 *   the Maps turn read-only (a write throws). A sealed world is never written again: its own
 *   successors copy what they change.
 * - `cowDebug(true)` (the tests): sealing also freezes the world, its nested Maps and IOVA trees,
 *   so that a write to an object shared with another world throws instead of changing it.
 */
import { copy } from './clone.js';
import { isIovaTree, type IovaTree } from './iova-tree.js';
import type { RunningPath, Task, World } from './world.js';
import { ModelError } from '../vocab/errors.js';

type Entries<K, V> = ReturnType<Map<K, V>['entries']>;
type Values<K, V> = ReturnType<Map<K, V>['values']>;

/** A top-level Map of a copy-on-write world (see the header). */
export class CowMap<K, V> extends Map<K, V> {
  /** While writable, and until its fingerprint is taken: the parent's Map and the keys whose entries are not the parent's. */
  parent: ReadonlyMap<K, V> | null = null;
  dirty: Set<K> | null = null;
  /** The order-independent sum of its entries' hashes, two 32-bit lanes (src/core/hash.ts sets it). */
  sumLo = 0;
  sumHi = 0;
  summed = false;
  writable = false;

  constructor(
    parent: ReadonlyMap<K, V> | null,
    entries?: Iterable<readonly [K, V]>,
    /** How an entry is copied before the step may change it. */
    private readonly copier: (v: V) => V = copy as (v: V) => V,
  ) {
    super();
    for (const [k, v] of parent ?? entries ?? []) super.set(k, v);
    if (parent !== null) {
      this.parent = parent;
      this.dirty = new Set();
      this.writable = true;
    }
  }

  /** The entry as stored, without copying it (for sealing and hashing). */
  raw(k: K): V | undefined {
    return super.get(k);
  }

  private own(k: K): void {
    if (this.dirty!.has(k) || !super.has(k)) return;
    this.dirty!.add(k);
    super.set(k, this.copier(super.get(k)!));
  }

  private ownAll(): void {
    if (!this.writable) return;
    for (const k of super.keys()) this.own(k);
  }

  private refuse(what: string): never {
    throw new ModelError(`a sealed world's Map was written (${what}): the explorer's worlds are read-only once stepped`);
  }

  override get(k: K): V | undefined {
    if (this.writable) this.own(k);
    return super.get(k);
  }

  override set(k: K, v: V): this {
    if (!this.writable) this.refuse('set');
    this.dirty!.add(k);
    return super.set(k, v);
  }

  override delete(k: K): boolean {
    if (!this.writable) this.refuse('delete');
    if (super.has(k)) this.dirty!.add(k);
    return super.delete(k);
  }

  override clear(): void {
    if (!this.writable) this.refuse('clear');
    for (const k of super.keys()) this.dirty!.add(k);
    super.clear();
  }

  override values(): Values<K, V> {
    this.ownAll();
    return super.values();
  }

  override entries(): Entries<K, V> {
    this.ownAll();
    return super.entries();
  }

  override [Symbol.iterator](): Entries<K, V> {
    this.ownAll();
    return super.entries();
  }

  override forEach(f: (v: V, k: K, m: Map<K, V>) => void, thisArg?: unknown): void {
    this.ownAll();
    super.forEach(f, thisArg);
  }

  /** Ends the step: copies equal to the parent's entries give way to them; the Map turns read-only. */
  seal(): void {
    if (!this.writable) return;
    this.writable = false;
    const parent = this.parent!;
    for (const k of this.dirty!) {
      if (!super.has(k) || !parent.has(k)) continue;
      const mine = super.get(k);
      const theirs = parent instanceof CowMap ? (parent.raw(k) as V) : parent.get(k)!;
      const r = reshare(mine, theirs) as V;
      if (r !== mine) super.set(k, r);
    }
  }

  /** Lets the parent go, once the fingerprint no longer needs it. */
  release(): void {
    this.parent = null;
    this.dirty = null;
  }
}

let debug = false;

/** Freeze every sealed world (tests): a write to an object shared between worlds then throws. */
export function cowDebug(on: boolean): void {
  debug = on;
}

/** A world the explorer starts from: its Maps become sealed CowMaps (the world is not written again). */
export function adopt(w: World): World {
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(w)) o[k] = v instanceof Map ? new CowMap(null, v) : v;
  const root = o as unknown as World;
  if (debug) freeze(root);
  return root;
}

/**
 * A task's copy: its records are shared, not copied. A record is the log's stimulus, which no
 * step changes (the tests freeze every explored world, records included, and every built-in
 * scenario explores without a write to one); the path's locals are copied.
 */
function copyTask(t: Task): Task {
  const current = t.current === null ? null : { ...t.current, ctx: copy(t.current.ctx) as RunningPath['ctx'] };
  return { ...(copy({ ...t, queue: [], current: null }) as Task), queue: [...t.queue], current };
}

/** A writable successor of a sealed world (see the header). */
export function successor(parent: World): World {
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(parent)) o[k] = v instanceof Map ? new CowMap(v, undefined, k === 'tasks' ? (copyTask as (x: unknown) => unknown) : undefined) : copy(v);
  return o as unknown as World;
}

/** Ends a successor's step (see the header). */
export function seal(child: World, parent: World): void {
  const c = child as unknown as Record<string, unknown>;
  const p = parent as unknown as Record<string, unknown>;
  for (const k of Object.keys(c)) {
    const v = c[k];
    if (v instanceof CowMap) v.seal();
    else if (v instanceof Map) c[k] = reshare(new CowMap(null, v), p[k]);
    else {
      const r = reshare(v, p[k]);
      if (r !== v) c[k] = r;
    }
  }
  if (debug) freeze(child);
}

/**
 * `b` if `a` deep-equals it, else `a` with every part that deep-equals `b`'s part at the same
 * place replaced by `b`'s. `a` is the step's private copy; `b` is never written. Arrays are
 * matched from the front when `a` is not shorter (push), else from the back (a queue's shift).
 */
function reshare(a: unknown, b: unknown): unknown {
  if (a === b) return b;
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return a;
  if (Array.isArray(a)) {
    if (!Array.isArray(b)) return a;
    const off = a.length < b.length ? b.length - a.length : 0;
    let same = a.length === b.length;
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i += 1) {
      const r = reshare(a[i], b[i + off]);
      if (r !== a[i]) a[i] = r;
      if (r !== b[i + off]) same = false;
    }
    return same ? b : a;
  }
  if (a instanceof Map) {
    if (!(b instanceof Map) || a instanceof CowMap || b instanceof CowMap) return a;
    let same = a.size === b.size;
    for (const [k, v] of a) {
      if (!b.has(k)) {
        same = false;
        continue;
      }
      const bv: unknown = b.get(k);
      const r = reshare(v, bv);
      if (r !== v) a.set(k, r);
      if (r !== bv) same = false;
    }
    return same ? b : a;
  }
  if (isIovaTree(a)) {
    if (!isIovaTree(b)) return a;
    let same = a.size === b.size;
    for (const [k, v] of a.toArray()) {
      const bv = b.get(k);
      if (bv === undefined) {
        same = false;
        continue;
      }
      const r = reshare(v, bv);
      if (r !== v) a.set(k, r);
      if (r !== bv) same = false;
    }
    return same ? b : a;
  }
  if (Array.isArray(b) || b instanceof Map || isIovaTree(b)) return a;
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = Object.keys(ao);
  let same = keys.length === Object.keys(bo).length;
  for (const k of keys) {
    const v = ao[k];
    const bv = bo[k];
    if (bv === undefined && !Object.hasOwn(bo, k)) {
      same = false;
      continue;
    }
    const r = reshare(v, bv);
    if (r !== v) ao[k] = r;
    if (r !== bv) same = false;
  }
  return same ? b : a;
}

function refuseWrite(): never {
  throw new ModelError('an object shared between explored worlds was written (cowDebug): a step changed its parent world');
}

/** Deep-freezes a sealed world (cowDebug): objects, arrays, nested Maps and IOVA trees refuse writes. */
function freeze(v: unknown): void {
  if (v === null || typeof v !== 'object' || Object.isFrozen(v)) return;
  if (v instanceof CowMap) {
    for (const k of Map.prototype.keys.call(v)) freeze(v.raw(k));
    return;
  }
  if (v instanceof Map) {
    for (const x of Map.prototype.values.call(v)) freeze(x);
    for (const m of ['set', 'delete', 'clear']) Object.defineProperty(v, m, { value: refuseWrite });
  } else if (isIovaTree(v)) {
    (v as IovaTree<unknown>).forEachPair((_k, x) => {
      freeze(x);
    });
    for (const m of ['set', 'delete', 'setPairs', 'deleteRange', 'editRange', 'clear']) Object.defineProperty(v, m, { value: refuseWrite });
  } else if (Array.isArray(v)) {
    for (const x of v) freeze(x);
  } else {
    for (const x of Object.values(v)) freeze(x);
  }
  Object.freeze(v);
}
