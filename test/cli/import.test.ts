/**
 * `iommu-model import qemu-trace` end to end: real traces (test/fixtures/qemu-trace/) imported and
 * replayed, the divergences where the traced system did what the kernel would not, the summary on
 * stderr, and bad input that names file, line and field and leaves the output untouched.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../cli-run.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'qemu-trace');
const tmp = (): string => mkdtempSync(join(tmpdir(), 'iommu-model-import-'));

async function importAndReplay(fixture: string): Promise<{ log: string; divergences: Array<{ seq: number; expected: unknown; actual: unknown }>; code: number; lines: string[] }> {
  const log = join(tmp(), 'imported.jsonl');
  const i = await run('import', 'qemu-trace', join(FIXTURES, fixture), '-o', log);
  expect(i.code, i.err).toBe(0);
  expect(i.out).toBe('');
  const r = await run('replay', log, '--json');
  return { log, code: r.code, divergences: (JSON.parse(r.out) as { divergences: Array<{ seq: number; expected: unknown; actual: unknown }> }).divergences, lines: readFileSync(log, 'utf8').trimEnd().split('\n') };
}

describe('import qemu-trace, then replay', () => {
  it('a vfio-user server that answered EINVAL to an overlapping region_add diverges: type1 says EEXIST', async () => {
    const { code, divergences, lines } = await importAndReplay('overlap-einval.trace');
    expect(code).toBe(1);
    expect(divergences.map((d) => ({ seq: d.seq, expected: d.expected, actual: d.actual }))).toEqual([{ seq: 19, expected: { errno: 'EINVAL' }, actual: { errno: 'EEXIST' } }]);
    // seq 19 is the record of trace line 6, the second region_add of 0xc0000
    expect(JSON.parse(lines[18]!).comment).toMatch(/^trace line 6: vfio_listener_region_add_ram 0xc0000 - 0xc0fff/);
  });

  it('a backend that accepted the overlap (no error_report) diverges: expected ret 0, got EEXIST', async () => {
    const { code, divergences } = await importAndReplay('overlap-accepted.synthetic.trace');
    expect(code).toBe(1);
    expect(divergences.map((d) => ({ seq: d.seq, expected: d.expected, actual: d.actual }))).toEqual([{ seq: 15, expected: { ret: 0 }, actual: { errno: 'EEXIST' } }]);
  });

  it.each(['syslog-bar-mmap.trace', 'vfio-user-reboot.trace'])('%s replays clean: the kernel agrees with the traced system', async (fixture) => {
    const { code, divergences } = await importAndReplay(fixture);
    expect(divergences).toEqual([]);
    expect(code).toBe(0);
  });
});

describe('import output', () => {
  it('writes the log to stdout without -o, and the summary to stderr in lines of at most 100 columns', async () => {
    const r = await run('import', 'qemu-trace', join(FIXTURES, 'vfio-user-reboot.trace'));
    expect(r.code).toBe(0);
    const recs = r.out.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(recs[0]).toMatchObject({ format: 'iommu-model/1', scheme: 'upstream' });
    expect(r.err).toMatch(/^import qemu-trace: .*vfio-user-reboot\.trace: 15\s+trace\s+lines\s+imported\s+as\s+31\s+records/);
    expect(r.err).toMatch(/\n {2}11 {2}vfio_listener_region_del_skip\n/);
    expect(r.err).toMatch(/assumed \(each also a comment on its records\):/);
    expect(Math.max(...r.err.split('\n').map((l) => l.length))).toBeLessThanOrEqual(100);
  });

  it('bad input: exit 2, one line naming file, line and field; the output file keeps its content', async () => {
    const dir = tmp();
    const trace = join(dir, 'bad.trace');
    writeFileSync(trace, 'vfio_realize  (0000:65:00.0) group 45\nvfio_listener_region_del region_del 0x1000 - 0xq\n');
    const out = join(dir, 'out.jsonl');
    writeFileSync(out, 'old\n');
    const r = await run('import', 'qemu-trace', trace, '-o', out);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^iommu-model: .*bad\.trace:2: field 'vfio_listener_region_del\.end': expected 'region_del 0x<start> - 0x<end>'/);
    expect(r.err.trimEnd().split('\n')).toHaveLength(1);
    expect(readFileSync(out, 'utf8')).toBe('old\n');
  });

  it('refuses a file that is not a QEMU trace, and an unknown kind', async () => {
    const notTrace = await run('import', 'qemu-trace', join(import.meta.dirname, '..', 'fixtures', 'spec-example.jsonl'));
    expect(notTrace.code).toBe(2);
    expect(notTrace.err).toMatch(/spec-example\.jsonl: not a QEMU trace/);
    const kind = await run('import', 'pcap', join(FIXTURES, 'overlap-einval.trace'));
    expect(kind.code).toBe(2);
    expect(kind.err).toMatch(/field '<kind>': expected one of qemu-trace, ftrace, got "pcap"/);
  });

  it('--max-line bounds a line like replay does', async () => {
    const r = await run('import', 'qemu-trace', join(FIXTURES, 'vfio-user-reboot.trace'), '--max-line', '64');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/vfio-user-reboot\.trace:1: line is longer than 64 bytes \(--max-line\)/);
  });
});
