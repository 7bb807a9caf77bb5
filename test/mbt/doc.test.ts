/**
 * docs/model-based-testing.md stays true: its code is the code the tests run, and what it shows
 * printed is what gen, the runner and fast-check print.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { renderGenSummary } from '../../src/cli/render/gen.js';
import { fit, PIPE_WIDTH } from '../../src/cli/render/term.js';
import { conformAll, describeDifference } from '../../src/run/gen/conformance.js';
import { COVER_KINDS, generate } from '../../src/run/gen/index.js';
import { sideBySide } from './side-by-side.js';
import { ToyType1 } from './toy-type1.js';

const ROOT = join(import.meta.dirname, '..', '..');
const DOC = readFileSync(join(ROOT, 'docs', 'model-based-testing.md'), 'utf8');
/** The page's fenced blocks of a language ('' for plain text), each without its fences. */
function blocks(lang: string): string[] {
  const out: string[] = [];
  let open: { lang: string; lines: string[] } | null = null;
  for (const line of DOC.split('\n')) {
    if (open === null && line.startsWith('```')) open = { lang: line.slice(3), lines: [] };
    else if (open !== null && line === '```') {
      if (open.lang === lang) out.push(open.lines.join('\n'));
      open = null;
    } else open?.lines.push(line);
  }
  return out;
}
const squash = (s: string): string => s.replace(/\s+/g, ' ').trim();

describe('docs/model-based-testing.md', () => {
  it('shows only code that is in test/mbt/ or src/run/gen/', () => {
    const dirs = ['test/mbt', 'src/run/gen'];
    const code = squash(dirs.flatMap((d) => readdirSync(join(ROOT, d)).filter((f) => f.endsWith('.ts')).map((f) => readFileSync(join(ROOT, d, f), 'utf8'))).join('\n'));
    const ts = blocks('ts');
    expect(ts.length).toBeGreaterThanOrEqual(5);
    for (const b of ts) expect(code.includes(squash(b)), b).toBe(true);
  });

  it('shows what gen, the runner and fast-check print', () => {
    const printed = blocks('').map((b) => b.trimEnd());
    // as `gen` prints it in a pipe or a file: fitted to 100 columns
    expect(printed).toContain(fit(renderGenSummary(generate('transitions'), 'iommu-model-gen'), PIPE_WIDTH).trimEnd());
    const logs = COVER_KINDS.flatMap((k) => generate(k).logs);
    const d = conformAll(new ToyType1({ overlapErrno: 'EINVAL' }), logs).find((v) => v.result === 'differs');
    expect(printed).toContain(d?.result === 'differs' ? describeDifference(d.difference) : 'no difference');
    let report = '';
    try {
      fc.assert(sideBySide(() => new ToyType1({ overlapErrno: 'EINVAL' })), { seed: 12, numRuns: 200, includeErrorInReport: true });
    } catch (e) {
      report = (e as Error).message;
    }
    // the report up to the error's message (its stack trace and fast-check's hint follow)
    expect(printed).toContain(report.split('\n').slice(0, 5).join('\n'));
  });
});
