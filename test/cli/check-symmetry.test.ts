/**
 * `check --symmetry`: the report says whether states equal up to vfio_dma ids and RAM addresses
 * were merged; the verdicts, counterexamples and exit code do not change, and the flags it cannot
 * be combined with are refused as bad usage.
 */
import { describe, expect, it } from 'vitest';
import { run } from '../cli-run.js';

interface CheckDoc {
  distinctStates: number;
  symmetry: boolean;
  properties: Record<string, string>;
  violations: Array<{ property: string; steps: number; message: string }>;
}

describe('check --symmetry', () => {
  it('merges msi-window states equal up to renaming, with the same verdicts and counterexamples', async () => {
    const args = ['check', '--scenario', 'msi-window', '--scheme', 'msi-reserved-iova-rfc', '--json'];
    const off = await run(...args);
    const on = await run(...args, '--symmetry');
    expect(on.code).toBe(off.code);
    const a = JSON.parse(off.out) as CheckDoc;
    const b = JSON.parse(on.out) as CheckDoc;
    expect(a.symmetry).toBe(false);
    expect(b.symmetry).toBe(true);
    expect(b.distinctStates).toBeLessThan(a.distinctStates);
    expect(b.properties).toEqual(a.properties);
    expect(b.violations).toEqual(a.violations);
  });

  it('the text report says whether it was on', async () => {
    expect((await run('check', '--scenario', 'map-vs-munmap', '--symmetry')).out).toMatch(/^symmetry: states equal up to vfio_dma ids and RAM addresses are one$/m);
    expect((await run('check', '--scenario', 'map-vs-munmap')).out).toMatch(/^symmetry: off \(--symmetry turns it on\)$/m);
  });

  it('is refused with --reduction and the scale-out flags (exit 2)', async () => {
    for (const extra of [['--reduction'], ['--workers', '2'], ['--shard', '1/2'], ['--swarm', '1/2']]) {
      const r = await run('check', '--scenario', 'map-vs-munmap', '--symmetry', ...extra);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/symmetry/);
    }
  });
});
