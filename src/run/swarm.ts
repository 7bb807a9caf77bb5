/**
 * `check --swarm k/n`: one of n bounded randomised searches, as SPIN's swarm runs many small
 * differently-ordered searches for state spaces too large to exhaust. Run k is a depth-first
 * search whose task order at every state is a shuffle drawn from a PRNG seeded by k and n
 * (mulberry32: deterministic, the same run gives the same report), bounded by a depth
 * (`depthBound`, 40 + 10 k by default, so runs also differ in how deep they look) and by
 * --max-states. It checks every property on every step and state it visits, keeps each
 * property's shortest finding (and its lock edges, for merge), and never claims exhaustion.
 * Its report is a ShardReport of mode 'swarm': merge (./merge.ts) takes the least finding over runs.
 *
 * Pure: no clock, no I/O; the randomness is the seeded PRNG.
 */
import { Checker } from '../checks/properties.js';
import { leftovers, stuck, waitForCycle } from '../checks/liveness.js';
import { cloneWorld } from '../core/clone.js';
import { worldHash } from '../core/fingerprint.js';
import type { World } from '../core/world.js';
import type { Scheme } from '../schemes/scheme.js';
import type { PropertyName } from '../vocab/properties.js';
import { releaseOf } from '../vocab/releases.js';
import { blockedOn, hasWork, scheduler, stepTask } from './engine.js';
import { initialWorld, stepSeqBase, type Scenario } from './explore.js';
import { compareKeys, edgeKey, findingKey, type FoundAt, type KeyedEdge, type ShardFinding, type ShardLimits, type ShardReport, type ShardSpec } from './shard.js';

/** mulberry32: a 32-bit PRNG, enough to shuffle task orders. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function exploreSwarm(sc: Scenario, scheme: Scheme, spec: ShardSpec, limits: ShardLimits, depthBound = 40 + 10 * spec.k): ShardReport {
  const random = prng(Math.imul(spec.k, 0x9e3779b1) ^ Math.imul(spec.n, 0x85ebca77));
  const release = releaseOf(sc.header);
  const base = stepSeqBase(sc);
  const tasks = [...new Set(sc.taskRecords.map((s) => s.task!))];
  const checker = new Checker(false);
  const { world: start, violations: early } = initialWorld(sc, scheme, checker);
  const sched = scheduler(scheme);
  const found = new Map<PropertyName, ShardFinding>();
  const edges = new Map<string, KeyedEdge>();
  const note = (v: ShardFinding): void => {
    const had = found.get(v.property);
    if (had === undefined || compareKeys(findingKey(tasks, v, 0), findingKey(tasks, had, 0)) < 0) found.set(v.property, v);
  };
  const at = (property: PropertyName, message: string, schedule: string[], where: FoundAt, seq = base + schedule.length, detail = {}): ShardFinding => ({ ...detail, property, message, schedule, seq, at: where });
  early.forEach((v) => {
    const { property, message, seq, ...detail } = v;
    if (!found.has(property)) found.set(property, at(property, message, [], 'prologue', seq, detail));
  });
  const wait0 = waitForCycle(start, sched);
  if (wait0 !== null) note(at('NoDeadlock', wait0.message, [], 'state', undefined, { ...wait0 }));
  const visited = new Set<number>([worldHash(start)]);
  const stack: Array<{ world: World; schedule: string[] }> = [{ world: start, schedule: [] }];
  let generated = 1;
  let terminal = 0;
  let deepest = 0;
  let cutOff = `swarm ${spec.k}/${spec.n}: a bounded search (depth ${depthBound})`;
  const pollEvery = limits.pollEvery ?? 16;
  search: while (stack.length > 0) {
    const { world, schedule } = stack.pop()!;
    const enabled = [...world.tasks.values()].filter((t) => hasWork(t) && blockedOn(world, scheme, t) === null).map((t) => t.name);
    if (enabled.length === 0) {
      const s = stuck(world, sched);
      if (s !== null) note(at('NoDeadlock', s.message, schedule, 'state', undefined, { ...s }));
      else {
        terminal += 1;
        const left = leftovers(world, sched);
        if (left !== null) note(at('TeardownCompletes', `every process exited but ${left} is left`, schedule, 'state'));
      }
      continue;
    }
    if (schedule.length >= depthBound) continue;
    // a shuffle of the enabled tasks (Fisher-Yates), pushed so that the first is expanded first
    for (let i = enabled.length - 1; i > 0; i -= 1) {
      const j = Math.floor(random() * (i + 1));
      [enabled[i], enabled[j]] = [enabled[j]!, enabled[i]!];
    }
    for (const name of enabled.reverse()) {
      if (generated >= limits.maxStates) {
        cutOff = `swarm ${spec.k}/${spec.n}: --max-states`;
        break search;
      }
      const stop = generated % pollEvery === 0 ? (limits.shouldStop?.() ?? null) : null;
      if (stop !== null) {
        cutOff = `swarm ${spec.k}/${spec.n}: ${stop}`;
        break search;
      }
      const w = cloneWorld(world);
      const next = [...schedule, name];
      const seq = base + next.length;
      const st = stepTask(w, scheme, name, seq, release);
      generated += 1;
      st.touched.lockEdges.forEach((edge, index) => {
        const e: KeyedEdge = { edge, schedule: next, index };
        const pair = `${edge.from}\u0000${edge.to}`;
        const had = edges.get(pair);
        if (had === undefined || compareKeys(edgeKey(tasks, e), edgeKey(tasks, had)) < 0) edges.set(pair, e);
      });
      for (const v of checker.check(w, st.touched, seq)) {
        if (v.property === 'LockOrder') continue; // merge finds it from the edges
        const { property, message, seq: s, ...detail } = v;
        note(at(property, message, next, 'step', s, detail));
      }
      const cycle = waitForCycle(w, sched);
      if (cycle !== null) note(at('NoDeadlock', cycle.message, next, 'step', undefined, { ...cycle }));
      const fp = worldHash(w);
      if (visited.has(fp)) continue;
      visited.add(fp);
      deepest = Math.max(deepest, next.length);
      stack.push({ world: w, schedule: next });
    }
  }
  const none = { generated: 0, distinct: 0, terminal: 0, depth: 0 };
  return {
    mode: 'swarm',
    k: spec.k,
    n: spec.n,
    split: null,
    scheme: scheme.name,
    kernel: releaseOf(sc.header).name,
    tasks,
    maxStates: limits.maxStates,
    exhausted: false,
    cutOff,
    prefix: none,
    own: { generated, distinct: visited.size, terminal, depth: deepest },
    findings: [...found.values()],
    edges: [...edges.values()],
  };
}
