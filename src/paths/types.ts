/**
 * What a kernel path is to the engine. Its machine (machines/paths/) says which state follows
 * which; for each state that runs, a step says which kernel function it mirrors, what it needs
 * before it can run (the locks it takes, or a condition it waits for) and what it does,
 * returning the machine event. Steps are typed by the machine's config: a missing step, a step
 * for a state the machine lacks, or an event its state does not accept is a compile error.
 */
import type { PathMachineName } from '../../machines/paths/index.js';
import { PATH_CONFIGS } from '../../machines/paths/index.js';
import type { EventIn, PathConfig, StepState } from '../../machines/paths/path.js';
import type { Policy } from '../schemes/policies/index.js';
import type { LockUse } from '../vocab/locks.js';
import type { StimulusOf, StimulusOp } from '../vocab/records.js';
import type { Outcome, Tx } from '../core/tx.js';
import type { Task, World } from '../core/world.js';

/** Something a step must have before it runs; a task whose step lacks one is blocked. */
export type Requirement = LockUse | { readonly wait: string; readonly ready: boolean; readonly on?: readonly string[] };

/** A path's locals: each path names its own; `outcome` is what the stimulus returns. */
export interface PathLocals {
  outcome?: Outcome;
}

/** One kernel path in flight, as its steps see it: the stimulus, the state and the locals. */
export interface Running<Ctx extends PathLocals, O extends StimulusOp> {
  readonly stimulus: StimulusOf<O>;
  readonly path: string;
  state: string;
  ctx: Ctx;
}

export interface PathStep<E extends string, Ctx extends PathLocals, O extends StimulusOp> {
  /** The kernel function (file:function) this step mirrors. */
  readonly mirrors: string;
  /** What the step needs; [] when it never blocks. Pure: reads the world, never changes it. */
  requires?(w: World, task: Task, rp: Running<Ctx, O>, policy: Policy): Requirement[];
  /** Runs the step atomically; returns the event for the path machine. */
  run(tx: Tx, task: Task, rp: Running<Ctx, O>): E;
}

type ConfigOf<N extends PathMachineName> = (typeof PATH_CONFIGS)[N];

/** The steps of path machine N: one for each state that runs, typed by the events it accepts. */
export type Steps<N extends PathMachineName, Ctx extends PathLocals, O extends StimulusOp> = {
  readonly [S in StepState<ConfigOf<N>>]: PathStep<EventIn<ConfigOf<N>, S>, Ctx, O>;
};

export interface PathDef {
  /** The machine's name in machines/paths/index.ts. */
  readonly machine: PathMachineName;
  readonly steps: { readonly [state: string]: PathStep<string, PathLocals, StimulusOp> };
}

/**
 * A path definition for machine N that runs stimuli of op O with locals Ctx:
 * `definePath<MapCtx, 'ioctl'>()('map_dma', { validate: {...}, ... })`.
 */
export function definePath<Ctx extends PathLocals, O extends StimulusOp>() {
  return <N extends PathMachineName>(machine: N, steps: Steps<N, Ctx, O>): PathDef => ({
    machine,
    steps: steps as unknown as PathDef['steps'],
  });
}

export type { PathConfig };
