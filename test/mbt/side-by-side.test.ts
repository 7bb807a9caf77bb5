/**
 * Way 2 of docs/model-based-testing.md: fc.commands drives the toy type1 and the model side by
 * side; on the flawed toy it shrinks to the shortest difference, two overlapping MAP_DMA (the
 * model answers EEXIST, the toy EINVAL); the fixed toy gives the model's answers throughout.
 */
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sideBySide } from './side-by-side.js';
import { ToyType1 } from './toy-type1.js';

const RUNS = { seed: 12, numRuns: 200 };

describe('fc.commands: an implementation and the model side by side', () => {
  it('finds the flawed toy\'s EINVAL for an overlapping MAP_DMA and shrinks it to two calls', () => {
    const r = fc.check(sideBySide(() => new ToyType1({ overlapErrno: 'EINVAL' })), RUNS);
    expect(r.failed).toBe(true);
    const [cmds] = r.counterexample!;
    // fast-check's commands print the calls that ran, then a replay path comment
    expect(String(cmds).replace(/ \/\*replayPath=.*\*\/$/, '')).toBe('MapDma(iova=0x100000, size=0x1000),MapDma(iova=0x100000, size=0x1000)');
    expect((r.errorInstance as Error).message).toBe('MapDma(iova=0x100000, size=0x1000): errno: expected EEXIST, got EINVAL');
  });

  it('passes the fixed toy', () => {
    const r = fc.check(sideBySide(() => new ToyType1({ overlapErrno: 'EEXIST' })), RUNS);
    expect(r.failed).toBe(false);
    expect(r.numRuns).toBe(RUNS.numRuns);
  });
});
