/**
 * Shared by the model-based machine tests (graph.test.ts, paths.test.ts): stepping a flat
 * machine with xstate's transition() and replaying xstate/graph paths with it.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { StateMachine, transition } from 'xstate';
import type { AnyMachineSnapshot, AnyStateMachine, EventObject } from 'xstate';
import type { StatePath } from 'xstate/graph';

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
