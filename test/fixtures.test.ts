/**
 * Golden logs: every test/fixtures/*.jsonl replays with no divergence, violates exactly the
 * properties its header lists, replays deterministically, and survives a record/replay round trip
 * (the recording carries derived records, which replay recomputes and compares).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';
import { parseLog } from '../src/log/reader.js';
import { recordLines, replayItems } from '../src/run/replay.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.jsonl'))
  .sort();

function load(file: string): ReturnType<typeof parseLog> {
  return parseLog(readFileSync(join(dir, file), 'utf8'), file);
}

function violated(report: { violations: readonly { property: string }[] }): string[] {
  return [...new Set(report.violations.map((v) => v.property))].sort();
}

/** Replays a log and returns its recording (header line first) with the report. */
function record(file: string): { lines: string[]; fingerprint: string } {
  const { header, items } = load(file);
  const lines = [JSON.stringify(header)];
  const { report } = replayItems(header, items, file, (step) => lines.push(...recordLines(step)));
  return { lines, fingerprint: report.fingerprint };
}

describe('golden logs', () => {
  it('there are fixtures', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  describe.each(files)('%s', (file) => {
    it('has a one-line description', () => {
      const { header } = load(file);
      expect(typeof header.description).toBe('string');
      expect(header.description!.trim()).not.toBe('');
    });

    it('replays with no divergence and exactly the violations its header lists', () => {
      const { header, items } = load(file);
      const { report } = replayItems(header, items, file);
      expect(report.divergences).toEqual([]);
      expect(violated(report)).toEqual([...new Set(header.violations ?? [])].sort());
    });

    it('replays deterministically (same fingerprint twice)', () => {
      const a = load(file);
      const b = load(file);
      const r1 = replayItems(a.header, a.items, file).report;
      const r2 = replayItems(b.header, b.items, file).report;
      expect(r2.fingerprint).toBe(r1.fingerprint);
      expect(r2.violations).toEqual(r1.violations);
    });

    it('round-trips through a recording with derived records', () => {
      const { lines, fingerprint } = record(file);
      expect(lines.some((l) => l.includes('"cause"'))).toBe(true);
      const rec = parseLog(lines.join('\n'), `${file} (recording)`);
      expect(rec.items.some((i) => i.kind === 'derived')).toBe(true);
      const { report } = replayItems(rec.header, rec.items, `${file} (recording)`);
      expect(report.divergences).toEqual([]);
      expect(report.fingerprint).toBe(fingerprint);
    });
  });

  it('a recording whose derived records were tampered with diverges', () => {
    const file = files.includes('spec-example.jsonl') ? 'spec-example.jsonl' : files[0]!;
    const { lines } = record(file);
    const i = lines.findIndex((l) => l.includes('"cause"'));
    expect(i).toBeGreaterThan(0);
    const d = JSON.parse(lines[i]!) as Record<string, unknown>;
    d['op'] = `${String(d['op'])}.tampered`;
    lines[i] = JSON.stringify(d);
    const rec = parseLog(lines.join('\n'), 'tampered');
    const { report } = replayItems(rec.header, rec.items, 'tampered');
    expect(report.divergences.length).toBeGreaterThan(0);
  });
});
