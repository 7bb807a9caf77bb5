/**
 * What a kernel path is to the engine: its machine (machines/paths/) says which state follows
 * which; for each non-final state, a step says what it needs before it can run (the locks it
 * takes, or a condition it waits for) and what it does, returning the machine event.
 */
import type { Scheme } from '../schemes/scheme.js';
import type { Mode } from '../core/locks.js';
import type { Tx } from '../core/tx.js';
import type { RunningPath, Task, World } from '../core/world.js';

/** Something a step must have before it runs; a task whose step lacks one is blocked. */
export type Requirement =
  | { readonly lock: string; readonly mode: Mode }
  | { readonly wait: string; readonly ready: boolean; readonly on?: readonly string[] };

export interface PathStep {
  /** What the step needs; [] when it never blocks. Pure: reads the world, never changes it. */
  requires?(w: World, task: Task, rp: RunningPath, scheme: Scheme): Requirement[];
  /** Runs the step atomically; returns the event for the path machine. */
  run(tx: Tx, task: Task, rp: RunningPath): string;
}

export interface PathDef {
  /** The machine's name in machines/paths/index.ts. */
  readonly machine: string;
  readonly steps: Readonly<Record<string, PathStep>>;
}
