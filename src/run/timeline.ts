/**
 * The timeline: every state of a replay, for navigation in time (docs/navigation.md). Built while
 * a Replay runs (`TimelineBuilder.push` from its onStep callback, with the live world), it keeps
 * an immutable, normalised view of the kernel objects (src/run/timeline/objects.ts) as immer
 * state: per record the patches that record made (and their inverse), and every K records a
 * checkpoint, a reference to the view then (structural sharing makes a checkpoint one pointer
 * plus the objects changed since the last). `at(p)` starts from the nearest checkpoint and applies
 * patches forwards or inverse patches backwards. Pure: no I/O, no clock.
 */
import { applyPatches, enableMapSet, enablePatches, produceWithPatches, type Patch } from 'immer';
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
// The collection of objects is a Map: immer copies a changed Map with new Map(base), an order of
// magnitude cheaper per record than spreading a plain object of a thousand keys (measured:
// docs/navigation.md). Patch paths read the same: ['objects', 'vfio_dma:5@0x0', 'state'].
enableMapSet();

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

/** A checkpoint every this many records. */
export const CHECKPOINT_EVERY = 1024;

const EMPTY: View = { objects: new Map() };

export class TimelineBuilder {
  private view: View = EMPTY;
  private readonly records: TimelineRecord[] = [];
  private readonly patches: (readonly Patch[] | null)[] = [];
  private readonly inverse: (readonly Patch[] | null)[] = [];
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
    const before = this.view.objects;
    const lookup: Lookup = {
      world,
      before: (id) => before.get(id),
      beforeInRange: (kind, owner, start, end) => this.index.overlapping(kind, owner, start, end),
      beforeOfKind: (kind) => (kind === 'file' ? this.files : this.bonds),
    };
    const named = namedBy(s, step.derived, lookup, step.touched, step.returned);
    this.explained?.push(named.explained);
    const changes: Array<[string, ObjectView | undefined]> = [];
    for (const id of named.dirty) {
      const next = viewOf(world, id);
      const cur = before.get(id);
      if (next === undefined ? cur !== undefined : cur === undefined || !sameJson(cur, next)) changes.push([id, next]);
    }
    this.records.push({ seq: s.seq, op: s.op, line: s.line, ...(step.step === undefined ? {} : { step: step.step }), stimulus: s, derived: step.derived });
    if (changes.length === 0) {
      this.patches.push(null);
      this.inverse.push(null);
    } else {
      // immer's Draft type of a recursive JSON type is too deep for tsc: the recipe sees plain records
      const base = this.view as unknown as { objects: Map<string, Record<string, unknown>> };
      const [next, p, inv] = produceWithPatches(base, (draft) => {
        const objs = draft.objects;
        for (const [id, nv] of changes) {
          const cur = before.get(id);
          if (nv === undefined) objs.delete(id);
          else if (cur === undefined) objs.set(id, nv as Record<string, unknown>);
          else {
            // only the leaves that differ, so that the patches name the fields that changed
            const d = objs.get(id)!;
            for (const k of Object.keys(cur)) if (!(k in nv)) delete d[k];
            for (const k of Object.keys(nv)) if (!(k in cur) || !sameJson(cur[k]!, nv[k]!)) d[k] = nv[k]!;
          }
        }
      });
      this.view = next as unknown as View;
      this.patches.push(p);
      this.inverse.push(inv);
      for (const [id, nv] of changes) this.reindex(id, nv);
    }
    if (this.records.length % this.every === 0) this.checkpoints.push(this.view);
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

  /** The view now (after the last record pushed). */
  current(): View {
    return this.view;
  }

  finish(): Timeline {
    return new Timeline(this.records, this.patches, this.inverse, this.checkpoints, this.view, this.every);
  }
}

/**
 * A built timeline. Positions: 0 is before the first record, p is after the p-th record (so the
 * state "at record seq" is position `positionOf(seq)`).
 */
export class Timeline {
  constructor(
    readonly records: readonly TimelineRecord[],
    private readonly patches: readonly (readonly Patch[] | null)[],
    private readonly inverse: readonly (readonly Patch[] | null)[],
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
    return { forward: this.patches[i] ?? [], inverse: this.inverse[i] ?? [] };
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
        const x = this.patches[i];
        if (x !== null && x !== undefined) for (const q of x) ps.push(q);
      }
      return ps.length === 0 ? this.checkpoints[below]! : applyPatches(this.checkpoints[below]!, ps);
    }
    const ps: Patch[] = [];
    for (let i = abovePos - 1; i >= p; i -= 1) {
      const x = this.inverse[i];
      if (x !== null && x !== undefined) for (const q of x) ps.push(q);
    }
    return ps.length === 0 ? aboveView : applyPatches(aboveView, ps);
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
