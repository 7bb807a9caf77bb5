/**
 * `check --no-reduction`: the reports say whether partial-order reduction was on and how many
 * transitions it did not take, and the verdicts and counterexample lengths do not change.
 */
import { describe, expect, it } from 'vitest';
import { run } from '../cli-run.js';

interface CheckDoc {
  statesGenerated: number;
  distinctStates: number;
  reduction: boolean;
  pruned: number;
  properties: Record<string, string>;
  violations: Array<{ property: string; steps: number }>;
}

async function check(...extra: string[]): Promise<CheckDoc> {
  const r = await run('check', '--scenario', 'mdev-unmap-vs-unmap', '--json', ...extra);
  expect(r.code).toBe(1);
  return JSON.parse(r.out) as CheckDoc;
}

describe('check --reduction and --no-reduction', () => {
  it('turns the sleep sets off; on or off, the same distinct states and verdicts, and the pruned transitions account for the difference', async () => {
    const on = await check('--reduction');
    const off = await check('--no-reduction');
    expect((await check()).reduction).toBe(false);
    expect(on.reduction).toBe(true);
    expect(off.reduction).toBe(false);
    expect(off.pruned).toBe(0);
    expect(on.distinctStates).toBe(off.distinctStates);
    expect(on.properties).toEqual(off.properties);
    expect(on.violations.map((v) => [v.property, v.steps])).toEqual(off.violations.map((v) => [v.property, v.steps]));
    expect(on.statesGenerated + on.pruned).toBe(off.statesGenerated);
  });

  it('the text report names the reduction and what it pruned', async () => {
    const on = await run('check', '--scenario', 'map-vs-munmap', '--reduction');
    expect(on.out).toMatch(/^partial-order reduction: sleep sets, [1-9][0-9]* transitions not taken$/m);
    for (const off of [await run('check', '--scenario', 'map-vs-munmap', '--no-reduction'), await run('check', '--scenario', 'map-vs-munmap')]) {
      expect(off.out).toMatch(/^partial-order reduction: off \(--reduction turns it on\)$/m);
    }
  });
});
