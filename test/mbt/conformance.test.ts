/**
 * Way 1 of docs/model-based-testing.md: the generated logs replayed against an implementation
 * through its adapter. The runner finds the flawed toy type1's EINVAL for an overlapping MAP_DMA
 * (the kernel's EEXIST) as the first difference of exactly one log, passes the fixed toy on every
 * log it supports, and passes the model itself on every log without a task.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createModel, type Model } from '../../src/api/model.js';
import type { StimulusRecord } from '../../src/api/records.js';
import { main } from '../../src/cli/main.js';
import { conformAll, describeDifference, firstDifference, type Implementation, type Verdict } from '../../src/run/gen/conformance.js';
import { ToyType1 } from './toy-type1.js';

/** The logs `iommu-model gen --cover <kind> -o <dir>` writes, for every criterion, read back. */
let LOGS: { file: string; text: string }[] = [];
beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'iommu-model-gen-'));
  const io = { stdout: () => {}, stderr: () => {}, isTTY: false };
  for (const kind of ['transitions', 'errnos', 'paths']) expect(await main(['gen', '--cover', kind, '-o', dir], io)).toBe(0);
  LOGS = readdirSync(dir).sort().map((file) => ({ file, text: readFileSync(join(dir, file), 'utf8') }));
});

const byResult = (vs: readonly Verdict[], result: Verdict['result']): Verdict[] => vs.filter((v) => v.result === result);

describe('generated logs against an implementation', () => {
  it('find the flawed toy\'s EINVAL where the kernel answers EEXIST, and nothing else', () => {
    const differs = byResult(conformAll(new ToyType1({ overlapErrno: 'EINVAL' }), LOGS), 'differs');
    expect(differs).toHaveLength(1);
    const d = differs[0]!.result === 'differs' ? differs[0]!.difference : undefined;
    expect(d).toMatchObject({ log: 'errno-MAP_DMA-EEXIST.jsonl', op: 'ioctl', cmd: 'VFIO_IOMMU_MAP_DMA', field: 'errno', expected: 'EEXIST', actual: 'EINVAL' });
    expect(describeDifference(d!)).toBe(`errno-MAP_DMA-EEXIST.jsonl:${d!.line}: ioctl VFIO_IOMMU_MAP_DMA: errno: expected EEXIST, got EINVAL`);
  });

  it('pass the fixed toy on every log it supports, and skip the others naming the record', () => {
    const verdicts = conformAll(new ToyType1({ overlapErrno: 'EEXIST' }), LOGS);
    expect(byResult(verdicts, 'differs')).toEqual([]);
    const passed = byResult(verdicts, 'passed').map((v) => v.log);
    expect(passed).toContain('errno-MAP_DMA-EEXIST.jsonl');
    expect(passed.length).toBeGreaterThanOrEqual(20);
    for (const v of byResult(verdicts, 'skipped')) expect(v.result === 'skipped' && v.line >= 2).toBe(true);
  });

  it('pass the model itself (createModel as the adapter) on every log without a task', () => {
    let model: Model = createModel();
    const self: Implementation = {
      start: (h) => {
        model = createModel({ scheme: h.scheme, ...(h.kernel === undefined ? {} : { kernel: h.kernel }) });
      },
      supports: (r) => !('task' in r),
      apply: (r) => model.apply(r as unknown as StimulusRecord).outcome ?? {}, // the log's records are valid StimulusRecords
    };
    const verdicts = conformAll(self, LOGS);
    expect(byResult(verdicts, 'differs')).toEqual([]);
    expect(byResult(verdicts, 'passed').length).toBeGreaterThan(LOGS.length / 2);
  });
});

describe('firstDifference', () => {
  it('compares what the expectation names, u64s as numbers, in the order errno, ret, out, dma, signal', () => {
    expect(firstDifference({ ret: '0x1000' }, { ret: 4096 })).toBeNull();
    expect(firstDifference({ ret: 0, out: { size: '0x2000' } }, { ret: 0, out: { size: '0x2000', extra: 1 } })).toBeNull();
    expect(firstDifference({ ret: 0 }, { errno: 'EINVAL' })).toEqual({ field: 'errno', expected: undefined, actual: 'EINVAL' });
    expect(firstDifference({ ret: 0, out: { size: '0x2000' } }, { ret: 0, out: { size: '0x1000' } })).toEqual({ field: 'out.size', expected: '0x2000', actual: '0x1000' });
    expect(firstDifference({ dma: 'fault' }, { dma: 'ok' })).toEqual({ field: 'dma', expected: 'fault', actual: 'ok' });
    expect(firstDifference({ ret: 3 }, { ret: 3n })).toBeNull();
  });
});
