/**
 * The pure stepper: the next state value and the actions of one machine event.
 *
 * xstate's public `transition(machine, snapshot, event)` builds an inert actor per call (~50k
 * events/s when measured against it). This module keeps one actor scope per machine and swaps its action
 * collector, and caches the snapshot of each state value (our machines have no context), which
 * returns the same snapshot and actions (test/engine/stepper.test.ts checks it against
 * `transition()`). It is the only module that calls into xstate at run time.
 */
import { createActor, type AnyActorScope, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate';
import { ALL_MACHINES, type MachineName } from '../../machines/index.js';
import { ModelError } from '../vocab/errors.js';

export interface StepResult {
  /** The state value after the event (unchanged when not accepted). */
  readonly value: string;
  /** Names of the actions the transition runs, in xstate's order. */
  readonly actions: readonly string[];
  /** Whether any transition was enabled for the event in that state. */
  readonly accepted: boolean;
}

interface MachineCache {
  readonly scope: AnyActorScope;
  collected: string[];
  readonly snapshots: Map<string, AnyMachineSnapshot>;
  readonly initial: string;
}

const caches = new Map<AnyStateMachine, MachineCache>();

function cacheFor(machine: AnyStateMachine): MachineCache {
  const known = caches.get(machine);
  if (known !== undefined) return known;
  const actor = createActor(machine);
  const cache = { collected: [] as string[], snapshots: new Map(), initial: '' } as {
    -readonly [K in keyof MachineCache]: MachineCache[K];
  };
  // The same inert scope xstate's transition() builds (xstate.esm.js createInertActorScope),
  // made once; its actionExecutor only records the action's name.
  cache.scope = {
    self: actor,
    defer: () => {},
    id: '',
    logger: () => {},
    sessionId: '',
    stopChild: () => {},
    system: actor.system,
    emit: () => {},
    actionExecutor: (action: { type: string }) => {
      cache.collected.push(action.type);
    },
  } as unknown as AnyActorScope;
  const initialSnapshot = machine.getInitialSnapshot(cache.scope, undefined) as AnyMachineSnapshot;
  cache.collected = [];
  cache.initial = String(initialSnapshot.value);
  cache.snapshots.set(cache.initial, initialSnapshot);
  caches.set(machine, cache);
  return cache;
}

function snapshotOf(machine: AnyStateMachine, cache: MachineCache, value: string): AnyMachineSnapshot {
  let snap = cache.snapshots.get(value);
  if (snap === undefined) {
    snap = machine.resolveState({ value, context: {} }) as AnyMachineSnapshot;
    cache.snapshots.set(value, snap);
  }
  return snap;
}

/** The initial state value of a machine. */
export function initialState(name: MachineName): string {
  return cacheFor(ALL_MACHINES[name] as AnyStateMachine).initial;
}

/**
 * Results by machine, state value and event type. Our machines have no context and no guards,
 * so a transition depends on nothing else; xstate computes each one once. The memo's key is a
 * number: each machine name, state value and event type is interned as a small id, so a step
 * builds no key string (a string key cost 4% of a replay).
 */
const memo = new Map<number, StepResult>();
const ids = new Map<string, number>();
/** Ids stay below ID_LIMIT, so that the key (below ID_LIMIT^3 = 2^36) is exact and unique. */
const ID_LIMIT = 4096;

function idOf(s: string): number {
  let id = ids.get(s);
  if (id === undefined) {
    id = ids.size;
    if (id >= ID_LIMIT) throw new ModelError(`the stepper interned more than ${ID_LIMIT} names; its memo key would not be unique`);
    ids.set(s, id);
  }
  return id;
}

/** One event on one machine in state `value`. Pure: same inputs, same result. */
export function step(name: MachineName, value: string, event: { type: string }): StepResult {
  const key = (idOf(name) * ID_LIMIT + idOf(value)) * ID_LIMIT + idOf(event.type);
  let r = memo.get(key);
  if (r === undefined) {
    r = computeStep(name, value, event);
    memo.set(key, r);
  }
  return r;
}

function computeStep(name: MachineName, value: string, event: { type: string }): StepResult {
  const machine = ALL_MACHINES[name] as AnyStateMachine;
  const cache = cacheFor(machine);
  const before = snapshotOf(machine, cache, value);
  // A self-transition with no actions returns the same snapshot object, so identity cannot tell
  // "accepted" from "ignored"; the enabled transitions can.
  if (machine.getTransitionData(before, event).length === 0) return { value, actions: [], accepted: false };
  cache.collected = [];
  const after = machine.transition(before, event, cache.scope) as AnyMachineSnapshot;
  const actions = Object.freeze(cache.collected);
  cache.collected = [];
  const next = String(after.value);
  if (!cache.snapshots.has(next)) cache.snapshots.set(next, after);
  return { value: next, actions, accepted: true };
}

/** Whether a state of a machine is final (a path that returned). */
export function isFinal(name: MachineName, value: string): boolean {
  const machine = ALL_MACHINES[name] as AnyStateMachine;
  return snapshotOf(machine, cacheFor(machine), value).status === 'done';
}
