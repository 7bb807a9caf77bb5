/**
 * Symmetry reduction (`check --symmetry`): the explorer keeps one world per class of worlds that
 * differ only in the names its allocators handed out, by renaming each successor into a canonical
 * representative before it is fingerprinted. Two allocators are renamed:
 *
 * - **vfio_dma ids.** A live vfio_dma is identified by (container, iova): dma_list is an rb-tree
 *   keyed by iova (vfio_iommu_type1.c:vfio_find_dma), and the kernel has no dma id at all; the
 *   model's id (from the shared `nextId` counter) only tells a dma freed and made again at the
 *   same iova from the first one (src/core/lifetimes.ts). The live dmas' ids are permuted among
 *   themselves so that they ascend in (container id, iova) order. Every holder is renamed with
 *   them: the dma itself, its IOMMU PTEs (`IommuPte.dma`) and the pointers tasks keep across
 *   steps (`ctx.kept[*].id`). The ids of freed dmas, still held by kept pointers, are left alone.
 * - **RAM pages.** backAnon (src/kernel/mm/mm.ts) gives an anonymous vma its pages from a bump
 *   allocator at its first fault or pin, so the order in which tasks first touch their buffers
 *   decides which physical range each gets. The referenced RAM (anonymous vmas, pinned extents,
 *   vendor-pinned pages, IOMMU PTEs at or above RAM_BASE) falls into components of overlapping
 *   ranges; they are laid out again from RAM_BASE, end to end, in the order of their first reference in a
 *   walk that uses no renamed value (mms by id, their vmas by start; containers by id, dmas by
 *   iova, extents, pfn_list by iova page, PTEs by iova; then the RAM a path holds in its locals
 *   across steps, such as MAP_DMA's pinned runs, tasks by name). Each component moves as a whole.
 *
 * Why it is sound (docs/concurrency.md "Symmetry" gives the argument in full): the model uses a
 * dma id only for equality (pte.dma === dma.id, a kept pointer's identity, NoOverlap and
 * LockedVmConserved's lookups), never for order, arithmetic or a lock name; and a RAM address
 * only as an offset inside the range one backAnon allocated (vma.phys + (vaddr - start), a vma
 * split, a PTE's phys + (iova - pte.iova)) or in overlap tests between such ranges (reclaim's
 * `pinned`), never compared across ranges for order or adjacency. New names come from `nextId`
 * and `nextRamPhys`, which are not renamed and lie above every renamed value. So a renamed world
 * takes the same steps, with the same lock edges and the same verdicts, as the world it stands
 * for: the renaming is a bisimulation, and breadth-first search over representatives reaches
 * every verdict at the same depth. test/explore/symmetry.test.ts checks it on every built-in
 * scenario. Phys renaming is off when a BAR reaches RAM_BASE (the two could not be told apart).
 */
import { PAGE_SIZE } from '../log/u64.js';
import { CowMap } from './cow.js';
import type { KeptRef, KeepsRefs } from './lifetimes.js';
import { RAM_BASE, type Container, type Mm, type Task, type World } from './world.js';

function peek<K, V>(m: Map<K, V>, k: K): V {
  return (m instanceof CowMap ? m.raw(k) : m.get(k)) as V;
}

function sortedKeys<K extends number | string>(m: Map<K, unknown>): K[] {
  const ks = [...(Map.prototype.keys.call(m) as IterableIterator<K>)];
  return typeof ks[0] === 'number' ? (ks as number[]).sort((a, b) => a - b) as K[] : ks.sort();
}

/** A component of referenced RAM: [lo, hi), the rank of its first reference, and where it moves to. */
interface Unit {
  lo: bigint;
  hi: bigint;
  rank: number;
  shift: bigint;
}

/** The renaming of one world: dma ids and RAM components. Null parts rename nothing. */
interface Renaming {
  readonly dma: Map<number, number> | null;
  readonly ram: Unit[] | null;
}

type Ranges = ReadonlyArray<readonly [bigint, bigint]>;

/** Each object's own referenced RAM and dma ids, by identity: a successor shares what its step left alone. */
const mmRam = new WeakMap<Mm, Ranges>();
const containerRam = new WeakMap<Container, Ranges>();
const containerDmas = new WeakMap<Container, readonly number[]>();

function ranges(put: (add: (phys: bigint | null | undefined, size: bigint) => void) => void): Ranges {
  const out: Array<readonly [bigint, bigint]> = [];
  put((phys, size) => {
    if (phys !== null && phys !== undefined && phys >= RAM_BASE) out.push([phys, phys + size]);
  });
  return out;
}

function ramOfMm(mm: Mm): Ranges {
  let r = mmRam.get(mm);
  if (r === undefined) {
    r = ranges((add) => {
      for (const v of mm.vmas) if (v.kind === 'anon') add(v.phys, v.end - v.start);
    });
    mmRam.set(mm, r);
  }
  return r;
}

function ramOfContainer(c: Container): Ranges {
  let r = containerRam.get(c);
  if (r === undefined) {
    const t1 = c.type1;
    r = ranges((add) => {
      if (t1 === null) return;
      for (const d of t1.dmas.valuesArray()) {
        for (const e of d.extents) if (e.kind === 'ram') add(e.phys, e.size);
        for (const page of [...d.pfnList.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) add(d.pfnList.get(page)!.phys, PAGE_SIZE);
      }
      for (const p of t1.domain?.ptes.valuesArray() ?? []) add(p.phys, p.size);
    });
    containerRam.set(c, r);
  }
  return r;
}

function dmasOf(c: Container): readonly number[] {
  let r = containerDmas.get(c);
  if (r === undefined) {
    r = c.type1?.dmas.valuesArray().map((d) => d.id) ?? [];
    containerDmas.set(c, r);
  }
  return r;
}

function ramHolders(w: World): Array<readonly [bigint, bigint]> {
  const out: Array<readonly [bigint, bigint]> = [];
  for (const id of sortedKeys(w.mms)) out.push(...ramOfMm(peek(w.mms, id)));
  for (const id of sortedKeys(w.containers)) out.push(...ramOfContainer(peek(w.containers, id)));
  for (const name of sortedKeys(w.tasks)) {
    const ctx = peek(w.tasks, name).current?.ctx;
    if (ctx !== undefined) {
      ctxPhys(ctx, (o) => {
        const phys = o['phys'] as bigint;
        if (phys >= RAM_BASE) out.push([phys, phys + (typeof o['size'] === 'bigint' ? o['size'] : PAGE_SIZE)]);
      });
    }
  }
  return out;
}

/**
 * A path's locals that hold RAM addresses across steps (MAP_DMA's pinned runs, from
 * vaddr_get_pfns until vfio_iommu_map): every object in them with a bigint `phys`, visited in
 * key order, each given to `f` (which may return a replacement).
 */
function ctxPhys(v: unknown, f: (o: Record<string, unknown>) => Record<string, unknown> | void): void {
  if (v === null || typeof v !== 'object' || v instanceof Map) return;
  const o = v as Record<string, unknown>;
  for (const k of Array.isArray(v) ? v.keys() : Object.keys(o).sort()) {
    const x = o[k as string] as unknown;
    if (x === null || typeof x !== 'object') continue;
    const r = typeof (x as Record<string, unknown>)['phys'] === 'bigint' ? f(x as Record<string, unknown>) : undefined;
    if (r !== undefined) o[k as string] = r;
    else ctxPhys(x, f);
  }
}

function ramRenaming(w: World): Unit[] | null {
  for (const name of sortedKeys(w.devices)) for (const b of peek(w.devices, name).bars) if (b.phys + b.size > RAM_BASE) return null;
  const held = ramHolders(w);
  if (held.length === 0) return null;
  const byLo = held.map(([lo, hi], rank) => ({ lo, hi, rank })).sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : a.rank - b.rank));
  const units: Unit[] = [];
  for (const r of byLo) {
    const last = units[units.length - 1];
    if (last !== undefined && r.lo < last.hi) {
      if (r.hi > last.hi) last.hi = r.hi;
      if (r.rank < last.rank) last.rank = r.rank;
    } else units.push({ lo: r.lo, hi: r.hi, rank: r.rank, shift: 0n });
  }
  let at = RAM_BASE;
  let moved = false;
  for (const u of [...units].sort((a, b) => a.rank - b.rank)) {
    u.shift = at - u.lo;
    if (u.shift !== 0n) moved = true;
    at += u.hi - u.lo;
  }
  return moved ? units : null;
}

function dmaRenaming(w: World): Map<number, number> | null {
  const ids: number[] = [];
  for (const id of sortedKeys(w.containers)) ids.push(...dmasOf(peek(w.containers, id)));
  const sorted = [...ids].sort((a, b) => a - b);
  let out: Map<number, number> | null = null;
  for (let i = 0; i < ids.length; i += 1) {
    if (ids[i] === sorted[i]) continue;
    out ??= new Map();
    out.set(ids[i]!, sorted[i]!);
  }
  return out;
}

function movePhys(units: Unit[] | null, phys: bigint): bigint {
  if (units === null || phys < RAM_BASE) return phys;
  for (const u of units) if (phys >= u.lo && phys < u.hi) return phys + u.shift;
  return phys;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function renameContainer(c: Container, r: Renaming): void {
  const t1 = c.type1;
  if (t1 === null) return;
  const id = (n: number): number => r.dma?.get(n) ?? n;
  for (const d of t1.dmas.valuesArray()) {
    (d as Mutable<typeof d>).id = id(d.id);
    if (r.ram === null) continue;
    d.extents = d.extents.map((e) => (e.kind === 'ram' ? { ...e, phys: movePhys(r.ram, e.phys) } : e));
    for (const [page, pfn] of [...d.pfnList]) d.pfnList.set(page, { ...pfn, phys: movePhys(r.ram, pfn.phys) });
  }
  const ptes = t1.domain?.ptes;
  if (ptes !== undefined) for (const p of ptes.valuesArray()) ptes.set(p.iova, { ...p, dma: id(p.dma), phys: movePhys(r.ram, p.phys) });
}

function containerNeeds(c: Container, r: Renaming): boolean {
  const t1 = c.type1;
  if (t1 === null) return false;
  if (r.ram !== null) return t1.dmas.size > 0 || (t1.domain?.ptes.size ?? 0) > 0;
  return t1.dmas.valuesArray().some((d) => r.dma!.has(d.id)) || (t1.domain?.ptes.valuesArray().some((p) => r.dma!.has(p.dma)) ?? false);
}

function renameMm(mm: Mm, units: Unit[]): void {
  mm.vmas = mm.vmas.map((v) => (v.kind === 'anon' && v.phys !== null ? { ...v, phys: movePhys(units, v.phys) } : v));
}

function keptDmas(t: Task): KeptRef[] {
  const kept = (t.current?.ctx as KeepsRefs | undefined)?.kept;
  return kept === undefined ? [] : Object.values(kept).filter((k) => k.kind === 'vfio_dma' && k.id !== null);
}

/**
 * Renames a writable world (a successor before it is sealed, or a world of its own) into its
 * class's representative. Returns whether anything changed.
 */
export function canonicalize(w: World): boolean {
  const r: Renaming = { dma: dmaRenaming(w), ram: ramRenaming(w) };
  if (r.dma === null && r.ram === null) return false;
  // the objects renamed are the step's own copies: their cached ranges and ids go with the old names
  for (const id of sortedKeys(w.containers)) {
    if (!containerNeeds(peek(w.containers, id), r)) continue;
    const c = w.containers.get(id)!;
    renameContainer(c, r);
    containerRam.delete(c);
    containerDmas.delete(c);
  }
  if (r.ram !== null) {
    for (const id of sortedKeys(w.mms)) {
      if (!peek(w.mms, id).vmas.some((v) => v.kind === 'anon' && v.phys !== null)) continue;
      const mm = w.mms.get(id)!;
      renameMm(mm, r.ram);
      mmRam.delete(mm);
    }
  }
  if (r.ram !== null) {
    const units = r.ram;
    for (const name of sortedKeys(w.tasks)) {
      let holds = false;
      ctxPhys(peek(w.tasks, name).current?.ctx, (o) => void (holds ||= movePhys(units, o['phys'] as bigint) !== o['phys']));
      if (holds) ctxPhys(w.tasks.get(name)!.current!.ctx, (o) => ({ ...o, phys: movePhys(units, o['phys'] as bigint) }));
    }
  }
  if (r.dma !== null) {
    for (const name of sortedKeys(w.tasks)) {
      if (!keptDmas(peek(w.tasks, name)).some((k) => r.dma!.has(k.id!))) continue;
      for (const k of keptDmas(w.tasks.get(name)!)) (k as Mutable<KeptRef>).id = r.dma.get(k.id!) ?? k.id;
    }
  }
  return true;
}
