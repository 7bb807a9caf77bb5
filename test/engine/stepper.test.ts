import { test as fcTest, fc } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { transition, initialTransition, type AnyStateMachine } from 'xstate';
import { ALL_MACHINES as MACHINES, type MachineName } from '../../machines/index.js';
import { initialState, step } from '../../src/core/stepper.js';

const names = Object.keys(MACHINES) as MachineName[];

/** Every event type a machine mentions anywhere, plus one it never accepts. */
function eventsOf(m: AnyStateMachine): string[] {
  const types = new Set<string>(['NOT_AN_EVENT']);
  for (const node of Object.values((m as unknown as { idMap: Record<string, { ownEvents: string[] }> }).idMap)) for (const t of node.ownEvents) types.add(t);
  return [...types];
}

describe('the pure stepper', () => {
  it('starts every machine where xstate starts it', () => {
    for (const n of names) {
      const [snap] = initialTransition(MACHINES[n] as AnyStateMachine);
      expect(initialState(n)).toBe(String(snap.value));
    }
  });

  fcTest.prop([fc.constantFrom(...names), fc.array(fc.nat(), { maxLength: 12 })])(
    'returns the state and actions that xstate transition() returns, for any event sequence',
    (name, picks) => {
      const m = MACHINES[name] as AnyStateMachine;
      const events = eventsOf(m);
      let [snap] = initialTransition(m);
      let value = initialState(name);
      for (const p of picks) {
        const type = events[p % events.length]!;
        const [next, actions] = transition(m, snap, { type });
        const mine = step(name, value, { type });
        expect(mine.value).toBe(String(next.value));
        expect(mine.actions).toEqual(actions.map((a) => a.type));
        // Ignored events leave xstate's snapshot untouched; anything that changed was accepted.
        if (!mine.accepted) expect(next).toBe(snap);
        if (next !== snap) expect(mine.accepted).toBe(true);
        snap = next;
        value = mine.value;
      }
    },
  );

  it('accepts a declared self-transition with no actions (a removed group closing its file)', () => {
    expect(step('group', 'removed', { type: 'RELEASE' })).toEqual({ value: 'removed', actions: [], accepted: true });
  });

  it('ignores an event the state does not accept and reports it as not accepted', () => {
    const r = step('container', 'freed', { type: 'SET_IOMMU_TYPE1' });
    expect(r).toEqual({ value: 'freed', actions: [], accepted: false });
  });
});
