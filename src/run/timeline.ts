/**
 * The timeline: every state of a replay, for navigation in time (docs/navigation.md). Built while
 * a Replay runs (`TimelineBuilder.push` from its onStep callback, with the live world), it keeps
 * a normalised view of the kernel objects (src/run/timeline/objects.ts), each object immutable
 * (immer-frozen): per record the patches immer's produceWithPatches gave for each object that
 * record changed (and their inverse), and every K records a checkpoint, a copy of the Map of
 * objects whose entries it shares with the views around it. `at(p)` starts from the nearest
 * checkpoint and applies patches forwards or inverse patches backwards. Pure: no I/O, no clock.
 */
import { applyPatches, enablePatches, freeze, produceWithPatches, type Patch } from 'immer';
import type { World } from '../core/world.js';
import type { Derived, Header, Stimulus } from '../vocab/records.js';
import type { LogItem } from '../log/reader.js';
import type { Scheme } from '../schemes/scheme.js';
import { Replay, type ReplayReport, type StepRecord } from './replay.js';
import { kindOf, viewOf, type ObjectView } from './timeline/objects.js';
import { namedBy, type Lookup } from './timeline/names.js';
import { sameJson } from './timeline/json.js';
import { RangeIndex } from './timeline/range-index.js';

enablePatches();

export interface View {
  /** Each object's view by id; the views themselves are plain JSON. */
  readonly objects: ReadonlyMap<string, ObjectView>;
}

/** One record of the log, as the timeline keeps it. */
export interface TimelineRecord {
  readonly seq: number;
  readonly op: string;
  readonly line: number;
  /** A step record: the step it ran (`<path>.<state>`). */
  readonly step?: string;
  readonly stimulus: Stimulus;
  readonly derived: readonly Derived[];
}

/** A record's patches from their JSON text (the values in a view are plain JSON, so the text is exact). */
function parsePatches(text: string | null | undefined): readonly Patch[] {
  return text === null || text === undefined ? [] : (JSON.parse(text) as Patch[]);
}

/**
 * A view with patches applied (paths `['objects', id]` for an object created or removed,
 * `['objects', id, field...]` inside one): the checkpoint's Map copied once, each changed object
 * by immer's applyPatches, the others shared.
 */
function applyTo(view: View, patches: readonly Patch[]): View {
  const m = new Map(view.objects);
  for (let i = 0; i < patches.length; ) {
    const q = patches[i]!;
    const id = q.path[1] as string;
    if (q.path.length === 2) {
      if (q.op === 'remove') m.delete(id);
      else m.set(id, freeze(q.value as ObjectView, true));
      i += 1;
      continue;
    }
    // a run of patches inside one object: one applyPatches
    const run: Patch[] = [];
    for (; i < patches.length && patches[i]!.path.length > 2 && patches[i]!.path[1] === id; i += 1) run.push({ ...patches[i]!, path: patches[i]!.path.slice(2) });
    m.set(id, applyPatches(m.get(id) as Record<string, unknown>, run) as ObjectView);
  }
  return { objects: m };
}

/** A checkpoint every this many records. */
export const CHECKPOINT_EVERY = 1024;

const EMPTY: View = { objects: new Map() };

export class TimelineBuilder {
  /**
   * The objects now: a mutable Map of immutable (frozen) object views. A record's change to an
   * object is one immer produceWithPatches over that object alone, so its cost is the object's
   * size, not the world's; a checkpoint copies the Map (its entries are shared with the views
   * before and after: structural sharing), every `every` records.
   */
  private readonly objs = new Map<string, ObjectView>();
  private readonly records: TimelineRecord[] = [];
  // A record's patches are kept as their JSON text: one string per record is a leaf the garbage
  // collector never walks, where the Patch objects are thousands of small objects it would mark
  // at every major collection (the build of a 1M-record log went superlinear with them).
  private readonly patches: (string | null)[] = [];
  private readonly inverse: (string | null)[] = [];
  private readonly checkpoints: View[] = [EMPTY];
  private readonly index = new RangeIndex();
  private readonly files = new Set<string>();
  private readonly bonds = new Set<string>();
  /** Per record, the objects its derived records (and its task) explain; kept only when asked (tests). */
  readonly explained: Set<string>[] | null;

  constructor(readonly every = CHECKPOINT_EVERY, keepExplained = false) {
    this.explained = keepExplained ? [] : null;
  }

  /** Folds one record: `world` is the live world just after it. */
  push(step: StepRecord, world: World): void {
    const s = step.stimulus;
    const objs = this.objs;
    const lookup: Lookup = {
      world,
      before: (id) => objs.get(id),
      beforeInRange: (kind, owner, start, end) => this.index.overlapping(kind, owner, start, end),
      beforeOfKind: (kind) => (kind === 'file' ? this.files : this.bonds),
    };
    const named = namedBy(s, step.derived, lookup, step.touched, step.returned);
    this.explained?.push(named.explained);
    const changes: Array<[string, ObjectView | undefined]> = [];
    for (const id of named.dirty) {
      const next = viewOf(world, id);
      const cur = objs.get(id);
      if (next === undefined ? cur !== undefined : cur === undefined || !sameJson(cur, next)) changes.push([id, next]);
    }
    this.records.push({ seq: s.seq, op: s.op, line: s.line, ...(step.step === undefined ? {} : { step: step.step }), stimulus: s, derived: step.derived });
    if (changes.length === 0) {
      this.patches.push(null);
      this.inverse.push(null);
    } else {
      const forward: Patch[] = [];
      const inverse: Patch[] = [];
      for (const [id, nv] of changes) {
        const cur = objs.get(id);
        if (nv === undefined) {
          forward.push({ op: 'remove', path: ['objects', id] });
          inverse.push({ op: 'add', path: ['objects', id], value: cur });
          objs.delete(id);
        } else if (cur === undefined) {
          forward.push({ op: 'add', path: ['objects', id], value: nv });
          inverse.push({ op: 'remove', path: ['objects', id] });
          objs.set(id, freeze(nv, true));
        } else {
          // immer's Draft type of a recursive JSON type is too deep for tsc: the recipe sees a plain record
          const [next, p, inv] = produceWithPatches(cur as Record<string, unknown>, (d) => {
            // only the leaves that differ, so that the patches name the fields that changed
            for (const k of Object.keys(cur)) if (!(k in nv)) delete d[k];
            for (const k of Object.keys(nv)) if (!(k in cur) || !sameJson(cur[k]!, nv[k]!)) d[k] = nv[k]!;
          });
          for (const q of p) forward.push({ ...q, path: ['objects', id, ...q.path] });
          for (const q of inv) inverse.push({ ...q, path: ['objects', id, ...q.path] });
          objs.set(id, next as ObjectView);
        }
      }
      this.patches.push(JSON.stringify(forward));
      this.inverse.push(JSON.stringify(inverse));
      for (const [id, nv] of changes) this.reindex(id, nv);
    }
    if (this.records.length % this.every === 0) this.checkpoints.push({ objects: new Map(objs) });
  }

  private reindex(id: string, v: ObjectView | undefined): void {
    const { kind, key } = kindOf(id);
    if (kind === 'file' || kind === 'sva_bond') {
      const set = kind === 'file' ? this.files : this.bonds;
      if (v === undefined) set.delete(id);
      else set.add(id);
      return;
    }
    if (kind !== 'vfio_dma' && kind !== 'pte' && kind !== 'vma') return;
    const at = key.indexOf('@');
    const owner = Number(key.slice(0, at));
    const start = BigInt(key.slice(at + 1));
    if (v === undefined) this.index.remove(kind, owner, start);
    else this.index.set(kind, owner, start, kind === 'vma' ? BigInt(v['end'] as string) : start + BigInt(v['size'] as string));
  }

  /** The view now (after the last record pushed): a copy, which later records do not change. */
  current(): View {
    return { objects: new Map(this.objs) };
  }

  finish(): Timeline {
    return new Timeline(this.records, this.patches, this.inverse, this.checkpoints, this.current(), this.every);
  }
}

/**
 * A built timeline. Positions: 0 is before the first record, p is after the p-th record (so the
 * state "at record seq" is position `positionOf(seq)`).
 */
export class Timeline {
  constructor(
    readonly records: readonly TimelineRecord[],
    private readonly patches: readonly (string | null)[],
    private readonly inverse: readonly (string | null)[],
    private readonly checkpoints: readonly View[],
    private readonly last: View,
    readonly every: number,
  ) {}

  get length(): number {
    return this.records.length;
  }

  /** The position after the record `seq`; undefined when the log has no record with that seq. */
  positionOf(seq: number): number | undefined {
    let lo = 0;
    let hi = this.records.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = this.records[mid]!.seq;
      if (s === seq) return mid + 1;
      if (s < seq) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  /** The patches record `i` (0-based) made, and their inverse. */
  patchesOf(i: number): { forward: readonly Patch[]; inverse: readonly Patch[] } {
    return { forward: parsePatches(this.patches[i]), inverse: parsePatches(this.inverse[i]) };
  }

  /** The view at position `p` (0..length): from the nearest checkpoint, forwards or backwards. */
  at(p: number): View {
    if (!Number.isInteger(p) || p < 0 || p > this.records.length) throw new RangeError(`position ${p} is outside 0..${this.records.length}`);
    if (p === this.records.length) return this.last;
    const below = Math.floor(p / this.every);
    const above = below + 1;
    const aboveView = above < this.checkpoints.length ? this.checkpoints[above]! : this.last;
    const abovePos = above < this.checkpoints.length ? above * this.every : this.records.length;
    if (p - below * this.every <= abovePos - p) {
      const ps: Patch[] = [];
      for (let i = below * this.every; i < p; i += 1) {
        for (const q of parsePatches(this.patches[i])) ps.push(q);
      }
      return ps.length === 0 ? this.checkpoints[below]! : applyTo(this.checkpoints[below]!, ps);
    }
    const ps: Patch[] = [];
    for (let i = abovePos - 1; i >= p; i -= 1) {
      for (const q of parsePatches(this.inverse[i])) ps.push(q);
    }
    return ps.length === 0 ? aboveView : applyTo(aboveView, ps);
  }

  /** The number of checkpoints kept (the first is the empty view). */
  get checkpointCount(): number {
    return this.checkpoints.length;
  }
}

/**
 * Replays a log held in memory and builds its timeline. `onStep` sees each record with the live
 * world after it and the view the builder holds then (the tests compare the two).
 */
export function buildTimeline(
  header: Header,
  items: Iterable<LogItem>,
  opts: { file?: string; scheme?: Scheme; every?: number; keepExplained?: boolean; onStep?: (r: StepRecord, world: World, view: View) => void } = {},
): { timeline: Timeline; report: ReplayReport; explained: Set<string>[] | null } {
  const b = new TimelineBuilder(opts.every ?? CHECKPOINT_EVERY, opts.keepExplained === true);
  const r: Replay = new Replay(header, opts.file ?? '<log>', (st) => {
    b.push(st, r.world);
    opts.onStep?.(st, r.world, b.current());
  }, opts.scheme);
  for (const it of items) r.push(it);
  const report = r.finish();
  return { timeline: b.finish(), report, explained: b.explained };
}
