/**
 * The HTML report in a real browser: Debian's chromium driven by playwright-core (CI installs
 * it: .ci/run). Each page is the report of a real recording, opened from file://, and every
 * expectation is computed from the log or its recording, not from the page's own data.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../cli-run.js';

/** The page's side, as the functions given to page.evaluate see it (the project's lib has no DOM types). */
interface El {
  dataset: Record<string, string | undefined>;
  style: { display: string };
  value: string;
  max: string;
  scrollTop: number;
  scrollHeight: number;
  textContent: string | null;
  dispatchEvent(e: unknown): boolean;
  querySelector(s: string): El | null;
  querySelectorAll(s: string): El[];
}
declare const document: { body: El; getElementById(id: string): El; querySelector(s: string): El | null };
declare class Event {
  constructor(type: string, init?: { bubbles?: boolean });
}

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const FIXTURE = 'test/fixtures/vm-lifecycle.jsonl';
const dir = mkdtempSync(join(tmpdir(), 'iommu-report-browser-'));
let browser: Browser;
let context: BrowserContext;
/** Every request the pages made for something other than a file: URL (there must be none). */
const network: string[] = [];
const errors: string[] = [];

interface Rec { op: string; seq: number; cause?: number; id?: number; via?: number; [k: string]: unknown }
const jsonl = (file: string): Rec[] => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Rec);

async function open(html: string): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(pathToFileURL(resolve(html)).href);
  await page.waitForFunction(() => document.body.dataset['rendered'] === '1');
  return page;
}

/** Moves the slider to record index `i`, as dragging it does (an input event). */
async function slide(page: Page, i: number): Promise<void> {
  await page.evaluate((v) => {
    const s = document.getElementById('slider');
    s.value = String(v);
    s.dispatchEvent(new Event('input', { bubbles: true }));
  }, i);
  await page.waitForFunction((v) => document.body.dataset['selected'] === String(v), i + 2);
}

/** The rows of a container's IOVA table: `<kind> <start>`. */
const iovaRows = (page: Page): Promise<string[]> =>
  page.$$eval('#iova-maps .owner[data-owner^="container"] table.ranges tr[data-start]', (rows) => rows.map((r) => `${(r as unknown as El).dataset['kind']} ${(r as unknown as El).dataset['start']}`));

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
  context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await context.route('**', (route) => {
    const url = route.request().url();
    if (url.startsWith('file:')) return route.continue();
    network.push(url);
    return route.abort();
  });
});

afterAll(async () => {
  await browser?.close();
});

describe('the report of a VM lifecycle (test/fixtures/vm-lifecycle.jsonl)', () => {
  const html = join(dir, 'vm.html');
  const recording = join(dir, 'vm.rec.jsonl');
  const stimuli = jsonl(FIXTURE).slice(1);
  // seq is the line number when a log gives none (docs/log-format.md, seq): record i is line i + 2
  const seqOf = (i: number): number => i + 2;
  const indexOf = (pred: (r: Rec) => boolean): number => stimuli.findIndex(pred);
  const arg = (r: Rec): Record<string, unknown> => (r['arg'] ?? {}) as Record<string, unknown>;
  const map2m = indexOf((r) => r['cmd'] === 'VFIO_IOMMU_MAP_DMA' && arg(r)['iova'] === '0x200000');
  const unmap2m = indexOf((r) => r['cmd'] === 'VFIO_IOMMU_UNMAP_DMA' && arg(r)['iova'] === '0x200000');
  let page: Page;

  beforeAll(async () => {
    expect((await run('report', FIXTURE, '-o', html)).code).toBe(0);
    expect((await run('replay', FIXTURE, '--record', recording)).code).toBe(0);
    page = await open(html);
  });

  it('has a lane per process and device, and every record', async () => {
    const lanes = new Set(stimuli.map((r) => (typeof r['pid'] === 'number' ? `pid ${r['pid']}` : typeof r['device'] === 'string' ? `device ${r['device']}` : 'host')));
    expect(new Set(await page.$$eval('.lane-label', (ls) => ls.map((l) => l.textContent)))).toEqual(lanes);
    expect(await page.$eval('#slider', (s) => Number((s as unknown as El).max) + 1)).toBe(stimuli.length);
    expect(await page.textContent('#chips')).toContain(`${stimuli.length} records`);
    // only the visible rows of the record list are in the DOM, and they scroll
    const rows = await page.$$eval('#list-rows .row', (rs) => rs.filter((r) => (r as unknown as El).style.display !== 'none').length);
    expect(rows).toBeLessThan(stimuli.length);
    await page.$eval('#list', (l) => (l.scrollTop = l.scrollHeight));
    await page.waitForFunction((n) => document.querySelector(`#list-rows .row[data-seq="${n}"]`) !== null, seqOf(stimuli.length - 1));
  });

  it('shows a mapping from the record that maps it until the record that unmaps it', async () => {
    const at = async (i: number): Promise<string[]> => {
      await slide(page, i);
      return (await iovaRows(page)).filter((r) => r.endsWith(' 0x200000'));
    };
    expect(await at(map2m - 1)).toEqual([]);
    expect(new Set(await at(map2m))).toEqual(new Set(['D 0x200000', 'M+ 0x200000', 'P 0x200000']));
    expect(await at(unmap2m - 1)).toHaveLength(3);
    expect(await at(unmap2m)).toEqual([]);
    // the BAR of the P2P mapping is coloured as a BAR, with its size in words
    const p2p = indexOf((r) => r['cmd'] === 'VFIO_IOMMU_MAP_DMA' && arg(r)['iova'] === '0x100000000');
    await slide(page, p2p);
    const bar = page.locator('#iova-maps tr[data-kind="B+"][data-start="0x100000000"]');
    expect(await bar.textContent()).toContain(`${Number(arg(stimuli[p2p]!)['size']) / 2 ** 20} MiB`);
    // going back re-folds from a checkpoint: the mapping is gone again
    expect(await at(map2m - 1)).toEqual([]);
  });

  it('shows the cause chain of a derived record back to its stimulus', async () => {
    await slide(page, unmap2m);
    const derived = jsonl(recording).filter((d) => d.cause === seqOf(unmap2m));
    const leaf = derived.find((d) => d.op === 'iommu.unmapped')!;
    // the chain as the recording links it: via, via, ..., the stimulus
    const chain: string[] = [];
    for (let d: Rec | undefined = leaf; d !== undefined; d = d.via === undefined ? undefined : derived.find((x) => x.id === d!.via)) chain.push(`${d.cause}.${d.id} ${d.op}`);
    await page.click(`#derived-list .drow[data-id="${leaf.id}"]`);
    const shown = await page.$$eval('#chain .link', (ls) => ls.map((l) => [l.querySelector('.did')!.textContent, l.querySelector('.dop')!.textContent].join(' ')));
    expect(shown).toEqual([...chain, `#${seqOf(unmap2m)} ioctl`]);
    expect(chain.length).toBeGreaterThan(1);
  });

  it("shows an object's lifecycle, with the transition of the selected record", async () => {
    await slide(page, unmap2m);
    const state = jsonl(recording).find((d) => d.cause === seqOf(unmap2m) && d.op === 'state')!;
    const row = page.locator(`.life-row[data-object="${String(state['object'])}"]`);
    expect(await row.locator('.ev.here').textContent()).toBe(`${String(state['event'])} #${seqOf(unmap2m)}`);
    expect(await row.locator('.life-now').textContent()).toBe(` ${String(state['to'])}`);
  });
});

describe('the report of a counterexample (check --scenario mdev-unmap-vs-unmap --out)', () => {
  const cx = join(dir, 'cx.jsonl');
  const html = join(dir, 'cx.html');
  let page: Page;
  let violation: { property: string; seq: number; scenario: { tasks: string[]; rows: string[][] } };

  beforeAll(async () => {
    expect((await run('check', '--scenario', 'mdev-unmap-vs-unmap', '--out', cx)).code).toBe(1);
    expect((await run('report', cx, '-o', html)).code).toBe(0);
    const replayed = JSON.parse((await run('replay', cx, '--json')).out) as { violations: (typeof violation)[] };
    violation = replayed.violations.find((v) => v.scenario !== undefined)!;
    page = await open(html);
  });

  it('lists the violation, and clicking it selects its record', async () => {
    await slide(page, 0);
    const link = page.locator(`#findings a.goto[data-seq="${violation.seq}"]`);
    expect(await link.textContent()).toBe(`${violation.property} at #${violation.seq}`);
    await link.click();
    expect(await page.evaluate(() => document.body.dataset['selected'])).toBe(String(violation.seq));
    expect(await page.locator('#list-rows .row.selected').getAttribute('data-seq')).toBe(String(violation.seq));
    expect(await page.locator('#list-rows .row.selected').getAttribute('class')).toContain('flagged');
  });

  it("shows the lock finding's scenario as one column per task", async () => {
    const table = page.locator('#findings table.lockdep');
    expect(await table.locator('th').allTextContents()).toEqual(violation.scenario.tasks);
    expect(violation.scenario.tasks).toHaveLength(2);
    const cells = await table.locator('tr').evaluateAll((trs) => trs.slice(1).map((tr) => [...(tr as unknown as El).querySelectorAll('td')].map((td) => td.textContent)));
    expect(cells).toEqual(violation.scenario.rows);
  });
});

describe('the report of a real QEMU trace, imported (test/fixtures/qemu-trace/overlap-einval.trace)', () => {
  const log = join(dir, 'overlap.jsonl');
  const html = join(dir, 'overlap.html');
  let page: Page;
  let divergence: { seq: number; op: string; line: number };

  beforeAll(async () => {
    expect((await run('import', 'qemu-trace', 'test/fixtures/qemu-trace/overlap-einval.trace', '-o', log)).code).toBe(0);
    expect((await run('report', log, '-o', html)).code).toBe(0);
    const replayed = JSON.parse((await run('replay', log, '--json')).out) as { divergences: (typeof divergence)[] };
    expect(replayed.divergences).toHaveLength(1);
    divergence = replayed.divergences[0]!;
    page = await open(html);
  });

  it('lists the divergence as replay words it, and clicking it selects its record', async () => {
    await slide(page, 0);
    const link = page.locator(`#findings a.goto[data-seq="${divergence.seq}"]`);
    expect(await link.textContent()).toBe(`divergence at #${divergence.seq}`);
    expect(await page.locator('#findings').textContent()).toContain(`${divergence.op} (line ${divergence.line}): expected errno EINVAL, got errno EEXIST`);
    await link.click();
    expect(await page.evaluate(() => document.body.dataset['selected'])).toBe(String(divergence.seq));
  });

  it('shows the mapping the refused MAP_DMA overlaps, live at that record', async () => {
    expect(await iovaRows(page)).toContain('D 0xc0000');
  });
});

describe('every page', () => {
  it('made no network request and threw no error', () => {
    expect(network).toEqual([]);
    expect(errors).toEqual([]);
  });
});
