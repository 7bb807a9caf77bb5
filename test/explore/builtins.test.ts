/**
 * Every built-in scenario and every golden log explores to completion under `upstream`, and the
 * violations it finds are exactly those its header documents (the kernel's own hazards, each
 * explained in docs/concurrency.md). Hand-written schemes of the seed threads are checked on the
 * scenarios that tell them apart.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { explore, scenarioOf } from '../../src/run/explore.js';
import { parseLog } from '../../src/log/reader.js';
import { defineScheme, type Scheme } from '../../src/schemes/scheme.js';
import { builtinScheme } from '../../src/schemes/catalogue.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SCENARIOS = join(ROOT, 'src', 'scenarios');
const FIXTURES = join(ROOT, 'test', 'fixtures');
const upstream = builtinScheme('upstream')!;

function verdicts(file: string, scheme: Scheme): { exhausted: boolean; violated: string[] } {
  const { header, items } = parseLog(readFileSync(file, 'utf8'), file);
  const r = explore(scenarioOf(header, items, file), scheme, { maxStates: 200_000 });
  return { exhausted: r.exhausted, violated: r.findings.map((f) => f.property).sort() };
}

function documented(file: string): string[] {
  const { header } = parseLog(readFileSync(file, 'utf8'), file);
  return [...(header.violations ?? [])].sort();
}

async function fixtureScheme(name: string): Promise<Scheme> {
  return defineScheme(((await import(pathToFileURL(join(FIXTURES, 'schemes', `${name}.mjs`)).href)) as { default: Scheme }).default);
}

describe('built-in scenarios under upstream', () => {
  for (const f of readdirSync(SCENARIOS).filter((x) => x.endsWith('.jsonl')).sort()) {
    it(`${f} explores to completion with exactly the violations its header documents`, () => {
      const file = join(SCENARIOS, f);
      const v = verdicts(file, upstream);
      expect(v.exhausted).toBe(true);
      expect(v.violated).toEqual(documented(file));
    });
  }
});

describe('golden logs under check', () => {
  for (const f of readdirSync(FIXTURES).filter((x) => x.endsWith('.jsonl')).sort()) {
    it(`${f} explores to completion with exactly the violations its header documents`, () => {
      const file = join(FIXTURES, f);
      const v = verdicts(file, upstream);
      expect(v.exhausted).toBe(true);
      expect(v.violated).toEqual(documented(file));
    });
  }
});

describe('the BAR invalidation designs of seed 002 on zap-vs-p2p-map', () => {
  const file = join(SCENARIOS, 'zap-vs-p2p-map.jsonl');

  it('upstream lets DMA reach the BAR after its decode is off (the IOMMU mapping outlives the zap)', () => {
    expect(verdicts(file, upstream).violated).toEqual(['NoDmaToDisabledMmio']);
  });

  it('the pinless interval-notifier scheme keeps every property', async () => {
    const v = verdicts(file, await fixtureScheme('interval-notifier'));
    expect(v).toEqual({ exhausted: true, violated: [] });
  });

  it('a notifier whose callback takes iommu->lock deadlocks the zap (memory_lock) against MAP_DMA, and still leaves a stale mapping', async () => {
    const v = verdicts(file, await fixtureScheme('notifier-takes-iommu-lock'));
    expect(v.violated).toEqual(['LockOrder', 'NoDeadlock', 'NoDmaToDisabledMmio']);
  });
});
