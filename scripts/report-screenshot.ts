/**
 * Makes the screenshots of `iommu-model report` the docs show, opened in Debian's chromium:
 * - docs/report.png (docs/report.md): the counterexample `check` finds for map-vs-munmap under
 *   the design in test/fixtures/schemes/notifier-takes-iommu-lock.mjs (a deadlock: its two-column
 *   scenario, the IOVA map at the record, the timeline with the tasks' lanes);
 * - docs/postmortem-overlap.png (docs/postmortem.md): a real QEMU trace, imported
 *   (test/fixtures/qemu-trace/overlap-einval.trace), at its divergence.
 * `npm run report-screenshot` rewrites both.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { main, type Io } from '../src/cli/main.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCHEME = join(ROOT, 'test/fixtures/schemes/notifier-takes-iommu-lock.mjs');
const OUT = join(ROOT, 'docs/report.png');
const TRACE = join(ROOT, 'test/fixtures/qemu-trace/overlap-einval.trace');
const OUT_TRACE = join(ROOT, 'docs/postmortem-overlap.png');

const quiet: Io = { stdout: () => {}, stderr: (s) => void process.stderr.write(s), isTTY: false };
const dir = mkdtempSync(join(tmpdir(), 'iommu-report-shot-'));
try {
  // the page names the log as given: a name without the temporary folder
  process.chdir(dir);
  const cx = 'map-vs-munmap.cx.jsonl';
  const html = join(dir, 'report.html');
  if ((await main(['check', '--scenario', 'map-vs-munmap', '--scheme', SCHEME, '--out', cx], quiet)) !== 1) throw new Error('check found no counterexample');
  if ((await main(['report', cx, '--scheme', SCHEME, '-o', html], quiet)) !== 0) throw new Error('report failed');
  const imported = 'overlap-einval.jsonl';
  const traceHtml = join(dir, 'overlap.html');
  if ((await main(['import', 'qemu-trace', TRACE, '-o', imported], quiet)) !== 0) throw new Error('import failed');
  if ((await main(['report', imported, '-o', traceHtml], quiet)) !== 0) throw new Error('report failed');
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
    await page.goto(pathToFileURL(html).href);
    await page.waitForFunction(() => (globalThis as unknown as { document: { body: { dataset: Record<string, string> } } }).document.body.dataset['rendered'] === '1');
    // a cause chain open, as a reader would have it after one click
    await page.click('#derived-list .drow:last-child');
    await page.screenshot({ path: OUT });
    process.stderr.write(`${OUT}\n`);
    // the imported trace opens at its divergence (the first flagged record)
    await page.goto(pathToFileURL(traceHtml).href);
    await page.waitForFunction(() => (globalThis as unknown as { document: { body: { dataset: Record<string, string> } } }).document.body.dataset['rendered'] === '1');
    await page.screenshot({ path: OUT_TRACE });
    process.stderr.write(`${OUT_TRACE}\n`);
  } finally {
    await browser.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
