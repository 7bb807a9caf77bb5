/**
 * Partial-order reduction for the breadth-first explorer (src/run/explore.ts): sleep sets over
 * measured footprints (src/run/footprint.ts). A sleep set prunes transitions, never states: a
 * task asleep at a node is not stepped there, because stepping it gives a state, violations and
 * lock edges the search already has from a shallower node. docs/concurrency.md,
 * "Partial-order reduction", states the rule and proves that the reduced search sees every
 * distinct state at its breadth-first depth, every property's first violation at the same
 * depth, and every lock-class edge.
 *
 * The rule, for a node u in layer k whose enabled tasks are e1..em (in the world's task order,
 * which no step changes) and whose sleep set is Z(u):
 * - a task in Z(u) is not stepped (counted in `pruned`);
 * - stepping ei (not in Z(u)) gives v = u.ei with
 *   C = { t in Z(u) or t = ej, j < i, ej not in Z(u) : t and ei touch no common place at u };
 * - Z(v) is the intersection of C over every arrival at v from layer k (a state first found in
 *   layer k+1 keeps one sleep set, narrowed by each later arrival from layer k); an arrival at a
 *   state of an earlier layer changes nothing.
 * A sleeping task's footprint is the one measured where it was stepped: by the argument, its step
 * at each node where it sleeps is that same step.
 *
 * Pure: no clock, no I/O.
 */
import type { World } from '../core/world.js';
import { conflict, Tracker, type Footprint } from './footprint.js';

/** How a search with reduction stood when it was cut off (part of SearchState). */
export interface ReductionState {
  /** The sleeping tasks of each node of the layer still to expand, and of the next layer. */
  readonly layer: readonly (readonly string[])[];
  readonly next: readonly (readonly string[])[];
  /** The fingerprint of each node of the next layer (later arrivals narrow its sleep set). */
  readonly nextFingerprints: readonly number[];
  readonly pruned: number;
}

/** Steps `name` on `view` (tracking `raw`, a clone) and runs the checks, for a footprint only. */
export type Probe = (view: World, raw: World, name: string, depth: number) => void;

/** A sleep set: task -> its footprint (null: to be measured again, after a resume). */
type Sleep = Map<string, Footprint | null>;

export class SleepSets {
  /** Transitions not taken because their task was asleep. */
  pruned: number;
  private readonly sleepOf = new Map<number, Sleep>();
  private readonly nextByFingerprint = new Map<number, number>();
  private sleep: Map<string, Footprint> = new Map();
  private done: Array<readonly [string, Footprint]> = [];
  private tracker: Tracker | null = null;
  private successor: Sleep = new Map();

  constructor(
    private readonly probe: Probe,
    private readonly copy: (w: World) => World,
    resumed?: { readonly state: ReductionState; readonly layer: readonly number[]; readonly next: readonly number[] },
  ) {
    this.pruned = resumed?.state.pruned ?? 0;
    if (resumed === undefined) return;
    const { state, layer, next } = resumed;
    const restore = (nodes: readonly number[], names: readonly (readonly string[])[]): void =>
      nodes.forEach((n, i) => this.sleepOf.set(n, new Map((names[i] ?? []).map((t) => [t, null]))));
    restore(layer, state.layer);
    restore(next, state.next);
    next.forEach((n, i) => {
      const fp = state.nextFingerprints[i];
      if (fp !== undefined) this.nextByFingerprint.set(fp, n);
    });
  }

  private measure(world: World, name: string, depth: number): Footprint {
    const w = this.copy(world);
    const t = new Tracker(world, w);
    this.probe(t.view, w, name, depth);
    return t.footprint();
  }

  /**
   * Starts expanding node `index` (world `world` at `depth`); `before` are the tasks a resumed
   * search already stepped from it (the first `skip` enabled tasks).
   */
  begin(index: number, world: World, depth: number, before: readonly string[]): void {
    const z = this.sleepOf.get(index) ?? new Map<string, Footprint | null>();
    this.sleep = new Map([...z].map(([t, f]) => [t, f ?? this.measure(world, t, depth)]));
    this.done = before.filter((t) => !this.sleep.has(t)).map((t) => [t, this.measure(world, t, depth)] as const);
  }

  /** Whether `name` sleeps at the node being expanded (then it is not stepped). */
  asleep(name: string): boolean {
    if (!this.sleep.has(name)) return false;
    this.pruned += 1;
    return true;
  }

  /** The world to step `name` on: a tracking view of `post`, the clone of `pre`. */
  track(pre: World, post: World): World {
    this.tracker = new Tracker(pre, post);
    return this.tracker.view;
  }

  /** After the step and its checks: the footprint, and the sleep set of the successor. */
  stepped(name: string): void {
    const f = this.tracker!.footprint();
    this.tracker = null;
    const z: Sleep = new Map();
    for (const [t, g] of this.sleep) if (!conflict(f, g)) z.set(t, g);
    for (const [t, g] of this.done) if (!conflict(f, g)) z.set(t, g);
    this.done.push([name, f]);
    this.successor = z;
  }

  /** The successor was a new state, node `index` of the next layer. */
  added(fingerprint: number, index: number): void {
    this.sleepOf.set(index, this.successor);
    this.nextByFingerprint.set(fingerprint, index);
  }

  /** The successor was a state already seen: narrow its sleep set if it is in the next layer. */
  seen(fingerprint: number): void {
    const n = this.nextByFingerprint.get(fingerprint);
    if (n === undefined) return;
    const z = this.sleepOf.get(n)!;
    for (const t of [...z.keys()]) if (!this.successor.has(t)) z.delete(t);
  }

  /** Node `index` is expanded. */
  end(index: number): void {
    this.sleepOf.delete(index);
  }

  /** The layer is done: arrivals at its states from the next one change nothing. */
  layerDone(): void {
    this.nextByFingerprint.clear();
  }

  /** The sleep sets of the nodes still to expand, for a checkpoint. */
  save(layer: readonly number[], next: readonly number[]): ReductionState {
    const names = (nodes: readonly number[]): string[][] => nodes.map((n) => [...(this.sleepOf.get(n)?.keys() ?? [])]);
    const fpOf = new Map([...this.nextByFingerprint].map(([fp, n]) => [n, fp]));
    return { layer: names(layer), next: names(next), nextFingerprints: next.map((n) => fpOf.get(n)!), pruned: this.pruned };
  }
}
