/**
 * How long a report page takes to open in Debian's chromium: navigation start to the page's
 * performance.mark('report-rendered') (set once the timeline, list and panels are painted), for
 * each of `runs` fresh pages. `npx tsx scripts/report-open-time.ts big.html [runs]`; the figures
 * in docs/report.md come from it. A measurement, not a test: nothing here asserts a speed.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const [file, runs = '3'] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: tsx scripts/report-open-time.ts <report.html> [runs]');
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
try {
  for (let i = 0; i < Number(runs); i += 1) {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await page.goto(pathToFileURL(resolve(file)).href);
    const ms = await page.waitForFunction(() => (globalThis as unknown as { performance: { getEntriesByName(n: string): { startTime: number }[] } }).performance.getEntriesByName('report-rendered')[0]?.startTime, null, { timeout: 60_000 });
    process.stdout.write(`${file}: rendered ${Math.round(Number(await ms.jsonValue()))} ms after navigation start\n`);
    await page.close();
  }
} finally {
  await browser.close();
}
