/**
 * Shared by the model-based machine tests (graph.test.ts, paths.test.ts): stepping a flat
 * machine with xstate's transition(), replaying xstate/graph paths with it, exploring a machine
 * over its whole event union, and the checks every explored machine must pass.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect, it } from 'vitest';
import { StateMachine, initialTransition, transition } from 'xstate';
import type { AnyMachineSnapshot, AnyStateMachine, EventFromLogic, EventObject } from 'xstate';
import { getAdjacencyMap, getShortestPaths, getSimplePaths, type StatePath } from 'xstate/graph';

export interface Edge {
  from: string;
  event: string;
  to: string;
  actions: string[];
}

/** A path from the initial state: its target and the transitions taken to get there. */
export interface Path {
  to: string;
  edges: Edge[];
}


/** Our machines are flat: every snapshot value is a top-level state name. */
export function stateName(snapshot: { value: unknown }): string {
  if (typeof snapshot.value !== 'string') {
    throw new Error(`expected a flat state value, got ${JSON.stringify(snapshot.value)}`);
  }
  return snapshot.value;
}

/** Runs `event` from `snapshot`, or returns undefined when the state does not accept it. */
export function step(machine: AnyStateMachine, snapshot: AnyMachineSnapshot, event: EventObject): Edge | undefined {
  if (machine.getTransitionData(snapshot, event).length === 0) return undefined;
  const [next, actions] = transition(machine, snapshot, event);
  return { from: stateName(snapshot), event: event.type, to: stateName(next), actions: actions.map((a) => a.type) };
}

/** Replays a graph path with `transition()` and checks it lands where the graph said it would. */
export function replay(machine: AnyStateMachine, path: StatePath<AnyMachineSnapshot, EventObject>): Path {
  const edges: Edge[] = [];
  // steps[0] is the step that yields the path's first snapshot (xstate.init).
  for (let i = 1; i < path.steps.length; i++) {
    const prev = path.steps[i - 1];
    const cur = path.steps[i];
    if (prev === undefined || cur === undefined) throw new Error('unreachable: index in range');
    const edge = step(machine, prev.state, cur.event);
    if (edge === undefined) throw new Error(`path takes ${cur.event.type}, which is ignored`);
    if (edge.to !== stateName(cur.state)) throw new Error(`replay diverged at ${edge.event}`);
    edges.push(edge);
  }
  return { to: stateName(path.state), edges };
}

/**
 * Every machine exported by the *.machine.ts files of `dir` that is not in `registered`
 * (`file:export`), with the files that export none: a registry that misses a machine would leave
 * it out of the model-based tests.
 */
export async function unregisteredMachines(dir: string, registered: Record<string, unknown>): Promise<{ files: number; exported: number; missing: string[]; empty: string[] }> {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.machine.ts'))
    .sort();
  const known = new Set<unknown>(Object.values(registered));
  const missing: string[] = [];
  const empty: string[] = [];
  let exported = 0;
  for (const file of files) {
    const mod = (await import(pathToFileURL(join(dir, file)).href)) as Record<string, unknown>;
    const machines = Object.entries(mod).filter(([, v]) => v instanceof StateMachine);
    if (machines.length === 0) empty.push(file);
    for (const [key, value] of machines) {
      exported++;
      if (!known.has(value)) missing.push(`${file}:${key}`);
    }
  }
  return { files: files.length, exported, missing, empty };
}

/** What exploring a machine over a list of events shows. */
export interface Exploration {
  initial: string;
  declaredStates: string[];
  declaredEvents: string[];
  exploredEvents: string[];
  shortest: Path[];
  simple: Path[];
  /** Every accepted transition, with the named actions it runs in order. */
  edges: Edge[];
  /** For every declared state, resolved on its own: the states its shortest paths reach. */
  reachableFrom: Record<string, string[]>;
}

/** Typed at the call site, so each event list is checked against the machine's event union. */
export function explore<M extends AnyStateMachine>(machine: M, events: readonly EventFromLogic<M>[]): Exploration {
  return exploreAny(machine, events);
}

function exploreAny(machine: AnyStateMachine, events: readonly EventObject[]): Exploration {
  const options = { events };
  const adjacency = getAdjacencyMap(machine, options);
  const edges: Edge[] = [];
  for (const { state } of Object.values(adjacency)) {
    for (const event of events) {
      const edge = step(machine, state, event);
      if (edge !== undefined) edges.push(edge);
    }
  }
  const declaredStates = Object.keys(machine.root.states).sort();
  const [initial] = initialTransition(machine);
  const reachableFrom: Record<string, string[]> = {};
  for (const name of declaredStates) {
    const fromState = machine.resolveState({ value: name, context: initial.context });
    const paths = getShortestPaths(machine, { events, fromState });
    reachableFrom[name] = [...new Set(paths.map((p) => stateName(p.state)))].sort();
  }
  return {
    initial: stateName(initial),
    declaredStates,
    declaredEvents: [...machine.events].map(String).sort(),
    exploredEvents: events.map((ev) => ev.type).sort(),
    shortest: getShortestPaths(machine, options).map((p) => replay(machine, p)),
    simple: getSimplePaths(machine, options).map((p) => replay(machine, p)),
    edges,
    reachableFrom,
  };
}

/** Events from their types: `e<ProcessEvent['type']>('EXIT', 'EXITED')`. */
export function e<T extends string>(...types: T[]): { type: T }[] {
  return types.map((type) => ({ type }));
}

/** The transitions that enter `state` from another state. */
export function into(x: Exploration, state: string): Edge[] {
  return x.edges.filter((edge) => edge.to === state && edge.from !== state);
}

/** The transitions out of `state` (self-loops included). */
export function outOf(x: Exploration, state: string): Edge[] {
  return x.edges.filter((edge) => edge.from === state);
}

/**
 * The checks every explored machine must pass, registered in the calling describe: its event
 * list is its whole event union, its shortest paths reach every declared state, and no accepted
 * transition leaves the declared states.
 */
export function itExploresEveryMachine<N extends string>(names: readonly N[], explored: Record<N, Exploration>): void {
  it.each(names)('%s: explores every event its event union declares', (name) => {
    const x = explored[name];
    expect(x.exploredEvents).toEqual(x.declaredEvents);
  });

  it.each(names)('%s: shortest paths reach every state it declares', (name) => {
    const x = explored[name];
    expect(x.declaredStates.length).toBeGreaterThan(1);
    expect([...new Set(x.shortest.map((p) => p.to))].sort()).toEqual(x.declaredStates);
  });

  it.each(names)('%s: every accepted transition targets a declared state', (name) => {
    const x = explored[name];
    for (const edge of x.edges) expect(x.declaredStates).toContain(edge.to);
  });
}
