/**
 * check reports the chance that its 53-bit fingerprints merged two distinct states, as TLC
 * does ("calculated (optimistic)"): n(n-1)/2 / 2^53 for n distinct states, in text and --json.
 */
import { describe, expect, it } from 'vitest';
import { run } from '../cli-run.js';

describe('check and its fingerprints', () => {
  it('gives the collision probability of its distinct states in --json', async () => {
    const r = await run('check', '--scenario', 'exit-with-page-requests', '--json');
    const doc = JSON.parse(r.out) as { distinctStates: number; collisionProbability: number };
    expect(doc.distinctStates).toBeGreaterThan(1000);
    expect(doc.collisionProbability).toBeCloseTo((doc.distinctStates * (doc.distinctStates - 1)) / 2 / 2 ** 53, 25);
    expect(doc.collisionProbability).toBeGreaterThan(0);
  });

  it('prints it under the states line, in the form TLC prints it', async () => {
    const r = await run('check', '--scenario', 'map-vs-munmap');
    const j = JSON.parse((await run('check', '--scenario', 'map-vs-munmap', '--json')).out) as { collisionProbability: number };
    const line = r.out.split('\n')[3]!;
    expect(line).toMatch(/^fingerprint collision probability \(53-bit\), calculated \(optimistic\): val = \d\.\dE-\d+$/);
    expect(line.split('val = ')[1]).toBe(j.collisionProbability.toExponential(1).toUpperCase());
  });
});
