import { mkdtempSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../cli-run.js';

const EXAMPLE = join(import.meta.dirname, '..', 'fixtures', 'spec-example.jsonl');

function tmpLog(lines: object[] | string): string {
  const dir = mkdtempSync(join(tmpdir(), 'iommu-model-'));
  const file = join(dir, 'log.jsonl');
  writeFileSync(file, typeof lines === 'string' ? lines : `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
  return file;
}

describe('iommu-model replay', () => {
  it('exits 0 on a clean log and names every property it checked', async () => {
    const r = await run('replay', EXAMPLE);
    expect(r.code).toBe(0);
    expect(r.out).toContain('NoDmaUseAfterFree holds');
    expect(r.err).toBe('');
  });

  it('prints one JSON document with --json', async () => {
    const r = await run('replay', EXAMPLE, '--json');
    const doc = JSON.parse(r.out) as { records: number; violations: unknown[]; divergences: unknown[] };
    expect(doc.records).toBe(11);
    expect(doc.violations).toEqual([]);
    expect(doc.divergences).toEqual([]);
  });

  it('reports a wrong expectation as a divergence with the kernel check that decided, and exits 1', async () => {
    const text = readFileSync(EXAMPLE, 'utf8').replace('"cmd":"VFIO_SET_IOMMU","arg":"VFIO_TYPE1v2_IOMMU","expect":{"ret":0}', '"cmd":"VFIO_SET_IOMMU","arg":"VFIO_TYPE1v2_IOMMU","expect":{"errno":"EINVAL"}');
    const r = await run('replay', tmpLog(text), '--json');
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.out) as { divergences: Array<{ seq: number; op: string; line: number; expected: unknown; actual: unknown; decidedBy: string }> };
    expect(doc.divergences).toEqual([{ seq: 7, op: 'ioctl', line: 7, expected: { errno: 'EINVAL' }, actual: { ret: 0 }, decidedBy: 'container.c:vfio_ioctl_set_iommu' }]);
  });

  it('names file, line and field of bad input on one line, exits 2, and prints no stack', async () => {
    const file = tmpLog([{ format: 'iommu-model/1' }, { op: 'process.spawn', pid: 1 }, { op: 'mmap', pid: 1, length: '0x1000', colour: 'red' }]);
    const r = await run('replay', file);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toContain(`${file}:3: field 'colour': unknown field`);
    expect(r.err).not.toContain('    at ');
  });

  it('rejects a u64 above 2^64-1 naming the field', async () => {
    const file = tmpLog([{ format: 'iommu-model/1' }, { op: 'process.spawn', pid: 1 }, { op: 'munmap', pid: 1, addr: '0x10000000000000000', length: '0x1000' }]);
    const r = await run('replay', file);
    expect(r.code).toBe(2);
    expect(r.err).toContain(':3: field \'addr\': "0x10000000000000000" is above 2^64-1');
  });

  it('prints the stack of an input error only with --debug', async () => {
    const file = tmpLog([{ format: 'iommu-model/1' }, { op: 'teleport' }]);
    const r = await run('replay', file, '--debug');
    expect(r.code).toBe(2);
    expect(r.err).toContain('field \'op\': unknown op "teleport"');
    expect(r.err).toContain('    at ');
  });

  it('treats a stimulus naming an undeclared process as bad input', async () => {
    const file = tmpLog([{ format: 'iommu-model/1' }, { op: 'open', pid: 9, path: '/dev/vfio/vfio' }]);
    const r = await run('replay', file);
    expect(r.code).toBe(2);
    expect(r.err).toContain(":2: field 'pid': no process 9");
  });

  it('shows the world at a record with --at', async () => {
    const r = await run('replay', EXAMPLE, '--at', '9');
    expect(r.code).toBe(0);
    expect(r.out).toContain('iova 0x0 size 0x200000 vaddr 0x7f0000000000 READ|WRITE mapped task 42 locked_vm 512');
    expect(r.out).toMatch(/process 42 \(running\) mm \d+ \(live\) locked_vm 512 pages/);
    expect(r.out).toContain('device 0000:01:00.0 group 26 closed open_count 0');
  });

  it('explains a derived record back to its stimulus with --why', async () => {
    const tree = await run('replay', EXAMPLE, '--why', '11', '--json');
    const chain = (JSON.parse(tree.out) as { chain: Array<{ op: string; id: number }> }).chain;
    const unpinned = chain.find((d) => d.op === 'pages.unpinned')!;
    const r = await run('replay', EXAMPLE, '--why', `11.${unpinned.id}`);
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines[0]).toContain('pages.unpinned');
    expect(r.out).toContain('because 11.');
    expect(r.out).toMatch(/dma\.removed[\s\S]*group\.detached[\s\S]*file\.released file=group:26[\s\S]*because 11 exit/);
  });

  it('writes a recording that replays with no divergence, and leaves nothing behind on bad input', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iommu-model-rec-'));
    const out = join(dir, 'rec.jsonl');
    expect((await run('replay', EXAMPLE, '--record', out)).code).toBe(0);
    const again = await run('replay', out, '--json');
    expect(again.code).toBe(0);
    expect((JSON.parse(again.out) as { derived: number }).derived).toBeGreaterThan(0);
    const bad = tmpLog([{ format: 'iommu-model/1' }, { op: 'teleport' }]);
    const out2 = join(dir, 'rec2.jsonl');
    expect((await run('replay', bad, '--record', out2)).code).toBe(2);
    expect(existsSync(out2)).toBe(false);
    expect(readdirSync(dir)).toEqual(['rec.jsonl']);
  });

  it('prints the kernel release it models: the latest, v6.18, for a log without kernel', async () => {
    const r = await run('replay', EXAMPLE);
    expect(r.out.split('\n')[1]).toBe('kernel: Linux v6.18');
    expect((JSON.parse((await run('replay', EXAMPLE, '--json')).out) as { kernel: string }).kernel).toBe('6.18');
  });

  it("prints the release a log's header names", async () => {
    const log = tmpLog(readFileSync(EXAMPLE, 'utf8').replace('{"format":"iommu-model/1"', '{"format":"iommu-model/1","kernel":"6.5"'));
    const r = await run('replay', log);
    expect(r.code).toBe(0);
    expect(r.out).toContain('kernel: Linux v6.5\n');
    expect((JSON.parse((await run('replay', log, '--json')).out) as { kernel: string }).kernel).toBe('6.5');
  });

  it('rejects an unknown kernel release in the header with exit 2, naming line 1, the field and the known releases', async () => {
    const r = await run('replay', tmpLog([{ format: 'iommu-model/1', kernel: '5.18' }]));
    expect(r.code).toBe(2);
    expect(r.err).toContain(":1: field 'kernel': unknown kernel release \"5.18\"; the model knows 5.19, 6.0, 6.1, 6.2, 6.3,");
    expect(r.err).toContain('6.17, 6.18 (absent: 6.18)');
    expect(r.err).not.toContain('    at ');
  });

  it('rejects an unknown scheme in the header', async () => {
    const r = await run('replay', tmpLog([{ format: 'iommu-model/1', scheme: 'nope' }]));
    expect(r.code).toBe(2);
    expect(r.err).toContain(':1: field \'scheme\': unknown scheme "nope"');
  });
});

describe('iommu-model demo', () => {
  it('replays every golden log as its header documents and exits 0', async () => {
    // demo writes its counterexamples into ./iommu-model-out: run it in a temporary directory.
    const cwd = process.cwd();
    process.chdir(mkdtempSync(join(tmpdir(), 'iommu-model-demo-')));
    try {
      const r = await run('demo');
      expect(r.out.split('\n')[0]).toMatch(/^iommu-model demo: \d+ built-in scenarios under \d+ built-in schemes, Linux v6\.18 \(/);
      expect(r.out).toContain('every golden log replays as documented');
      expect(r.out).toContain('every verdict matches the expectation its scheme documents');
      expect(r.code).toBe(0);
    } finally {
      process.chdir(cwd);
    }
  });
});

describe('bad ioctl names', () => {
  it('treats an ioctl name the model does not know as bad input, not ENOTTY', async () => {
    const file = tmpLog([{ format: 'iommu-model/1' }, { op: 'process.spawn', pid: 1 }, { op: 'open', pid: 1, path: '/dev/vfio/vfio' }, { op: 'ioctl', pid: 1, fd: 3, cmd: 'VFIO_IOMMU_MAP_DAM' }]);
    const r = await run('replay', file);
    expect(r.code).toBe(2);
    expect(r.err).toContain(':4: field \'cmd\': unknown ioctl "VFIO_IOMMU_MAP_DAM"');
  });
});
