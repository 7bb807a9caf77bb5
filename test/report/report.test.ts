/**
 * `iommu-model report` without a browser: what the command writes and refuses, and the page's
 * data (the fold inputs the browser test does not look at one by one).
 */
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../cli-run.js';

const dir = mkdtempSync(join(tmpdir(), 'iommu-report-'));
const dataOf = (html: string): { rec: { seq: number[] }; iova: (string | number)[]; strings: string[] } => {
  const m = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html);
  return JSON.parse(m![1]!) as never;
};

describe('report', () => {
  it('writes one page holding every record of the log, and says so on stderr (exit 0)', async () => {
    const out = join(dir, 'vm.html');
    const r = await run('report', 'test/fixtures/vm-lifecycle.jsonl', '-o', out);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/vm\.html: the report of test\/fixtures\/vm-lifecycle\.jsonl \(29 records, 0 violations, 0 divergences\)/);
    const html = readFileSync(out, 'utf8');
    const lines = readFileSync('test/fixtures/vm-lifecycle.jsonl', 'utf8').trim().split('\n');
    expect(dataOf(html).rec.seq).toEqual(lines.slice(1).map((_, i) => i + 2));
    // self-contained: nothing is fetched (the browser test checks it at run time too)
    expect(html).not.toMatch(/<(link|img|iframe)\b|src=|@import|url\(http/i);
  });

  it('exits 0 on a log with a violation: the page shows it', async () => {
    const cx = join(dir, 'cx.jsonl');
    expect((await run('check', '--scenario', 'mdev-unmap-vs-unmap', '--out', cx)).code).toBe(1);
    const r = await run('report', cx, '-o', join(dir, 'cx.html'));
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/1 violation,/);
  });

  it('writes the page to stdout with -o -', async () => {
    const r = await run('report', 'test/fixtures/spec-example.jsonl', '-o', '-');
    expect(r.code).toBe(0);
    expect(r.out.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(r.out.trimEnd().endsWith('</html>')).toBe(true);
  });

  it('keeps a log\'s text out of the markup: </script> in a comment stays inside the data', async () => {
    const log = join(dir, 'script.jsonl');
    const evil = '</script><script>alert(1)</script><!--';
    writeFileSync(log, `${JSON.stringify({ format: 'iommu-model/1', description: evil })}\n${JSON.stringify({ op: 'process.spawn', pid: 1, comment: evil })}\n`);
    const r = await run('report', log, '-o', '-');
    expect(r.code).toBe(0);
    expect(r.out.split('</script>')).toHaveLength(3); // the data block's and the script's own
    expect(r.out).not.toContain('<!--');
    expect(JSON.stringify(dataOf(r.out))).toContain(evil);
  });

  it('folds the IOVA map from the derived records: MAP_DMA adds a vfio_dma, its IOMMU mapping and pins; UNMAP removes them', async () => {
    const r = await run('report', 'test/fixtures/vm-lifecycle.jsonl', '-o', '-');
    const d = dataOf(r.out);
    const events: string[] = [];
    for (let i = 0; i < d.iova.length; i += 6) if (d.iova[i + 3] === '0x200000') events.push(`${d.rec.seq[d.iova[i] as number]} ${String(d.iova[i + 1])}`);
    // record 20 maps iova 0x200000, record 27 unmaps it (test/fixtures/vm-lifecycle.jsonl)
    expect(events).toEqual(['20 P+', '20 M+', '20 D+', '27 D-', '27 M-', '27 P-']);
  });

  it('refuses bad input with exit 2 and writes nothing', async () => {
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, `${JSON.stringify({ format: 'iommu-model/1' })}\n{"op":"process.spawn","pid":"one"}\n`);
    const out = join(dir, 'bad.html');
    const r = await run('report', bad, '-o', out);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/bad\.jsonl:2: .*pid/);
    expect(existsSync(out)).toBe(false);
    expect((await run('report', 'test/fixtures/vm-lifecycle.jsonl')).code).toBe(2); // -o is required
    expect((await run('report', 'test/fixtures/vm-lifecycle.jsonl', '-o', join(dir, 'no', 'such', 'dir.html'))).code).toBe(2);
  });

  it('runs its --help examples as shown (from a clone, writing into the current folder)', async () => {
    const help = (await run('report', '--help')).out;
    const examples = help.slice(help.indexOf('Examples:'), help.indexOf('Exit codes:')).split('\n').map((l) => l.trim()).filter((l) => l.startsWith('npx iommu-model '));
    expect(examples.length).toBeGreaterThanOrEqual(2);
    for (const e of examples) {
      const argv = e.slice('npx iommu-model '.length).split(' ').map((a) => (/^[a-z-]+\.(jsonl|html)$/.test(a) ? join(dir, a) : a));
      const r = await run(...argv);
      expect([0, 1]).toContain(r.code);
    }
    expect(existsSync(join(dir, 'cx.html'))).toBe(true);
  });
});
