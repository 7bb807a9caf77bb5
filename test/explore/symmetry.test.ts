/**
 * Symmetry reduction is sound (src/core/symmetry.ts; docs/performance.md, "Symmetry"): on every
 * built-in scenario under every built-in scheme (the demo's pairs), and on the scaled
 * map-vs-munmap race of test/fixtures/many-tasks.ts, the search that renames vfio_dma ids and RAM
 * addresses finds the same violated properties, with the same shortest counterexample length,
 * seq and message, the same depth and the same lock-class edges as the search that does not, in
 * no more distinct states; on the scaled race it merges states the plain search counts apart.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { explore, scenarioOf, type ExploreReport, type Scenario } from '../../src/run/explore.js';
import { parseLog } from '../../src/log/reader.js';
import { builtinScheme, builtinSchemes } from '../../src/schemes/catalogue.js';
import { DEMO_MAX_STATES } from '../../src/run/verdicts.js';
import { defineScheme, type Scheme } from '../../src/schemes/scheme.js';
import { manyTasksScenario } from '../fixtures/many-tasks.js';
import { canonicalize } from '../../src/core/symmetry.js';
import { cloneWorld } from '../../src/core/clone.js';
import { stateHash } from '../../src/core/hash.js';
import type { World } from '../../src/core/world.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SCENARIOS = join(ROOT, 'src', 'scenarios');

function scenario(file: string, text = readFileSync(file, 'utf8')): Scenario {
  const { header, items } = parseLog(text, file);
  return scenarioOf(header, items, file);
}

/** What a symmetric search must keep of the plain one. */
function verdicts(r: ExploreReport): object {
  return {
    depth: r.depth,
    exhausted: r.exhausted,
    findings: r.findings.map((f) => ({ property: f.property, steps: f.schedule.length, seq: f.seq, message: f.message })).sort((a, b) => (a.property < b.property ? -1 : 1)),
    edges: [...new Set((r.graph ?? []).map((e) => `${e.from}>${e.to}`))].sort(),
  };
}

function search(sc: Scenario, scheme: Scheme, symmetry: boolean, maxStates = DEMO_MAX_STATES): ExploreReport | string {
  try {
    return explore(sc, scheme, { maxStates, edges: true, symmetry });
  } catch (e) {
    return String(e);
  }
}

describe('symmetry keeps every verdict on the demo pairs', () => {
  const files = readdirSync(SCENARIOS).filter((f) => f.endsWith('.jsonl')).sort();
  for (const f of files) {
    it(`${f}: under every built-in scheme, the same verdicts, counterexamples and lock edges in no more states`, () => {
      const sc = scenario(join(SCENARIOS, f));
      for (const scheme of builtinSchemes()) {
        const full = search(sc, scheme, false);
        const sym = search(sc, scheme, true);
        if (typeof full === 'string' || typeof sym === 'string') {
          // a pair whose set-up fails stops at the same record either way
          expect(sym).toEqual(full);
          continue;
        }
        expect(full.exhausted).toBe(true);
        expect(sym.symmetry).toBe(true);
        expect(verdicts(sym)).toEqual(verdicts(full));
        expect(sym.distinctStates).toBeLessThanOrEqual(full.distinctStates);
      }
    }, 120_000);
  }
});

async function fixtureScheme(name: string): Promise<Scheme> {
  const url = pathToFileURL(join(ROOT, 'test', 'fixtures', 'schemes', `${name}.mjs`)).href;
  return defineScheme(((await import(url)) as { default: Scheme }).default);
}

describe('symmetry on the scaled map-vs-munmap race (test/fixtures/many-tasks.ts)', () => {
  it('3 MAP_DMA tasks vs 3 munmap tasks: the same verdicts, and the orders the maps took iommu->lock in are one state', async () => {
    const sc = scenario('many-tasks-6.jsonl', manyTasksScenario(6, 6));
    // upstream holds; a notifier that takes iommu->lock closes a lock cycle and deadlocks
    for (const scheme of [builtinScheme('upstream')!, await fixtureScheme('notifier-takes-iommu-lock')]) {
      const full = search(sc, scheme, false, 1_000_000) as ExploreReport;
      const sym = search(sc, scheme, true, 1_000_000) as ExploreReport;
      expect(full.exhausted && sym.exhausted).toBe(true);
      expect(verdicts(sym)).toEqual(verdicts(full));
      expect(sym.distinctStates).toBeLessThan(full.distinctStates);
    }
    // upstream: every process has exited; the plain search tells apart the 3! orders of the
    // maps by the dma ids and pages they got, the symmetric one has one final state
    const full = search(sc, builtinScheme('upstream')!, false, 1_000_000) as ExploreReport;
    const sym = search(sc, builtinScheme('upstream')!, true, 1_000_000) as ExploreReport;
    expect(full.terminalStates).toBe(6);
    expect(sym.terminalStates).toBe(1);
  }, 120_000);

  it('renaming is canonical: worlds equal up to dma ids and pages get one representative, and it is a fixed point', () => {
    const sc = scenario('many-tasks-4.jsonl', manyTasksScenario(4, 4));
    const ends: World[] = [];
    explore(sc, builtinScheme('upstream')!, {
      maxStates: 100_000,
      fingerprints: 'reference',
      onState: (w) => {
        if ([...w.tasks.values()].every((t) => t.current === null && t.queue.length === 0)) ends.push(cloneWorld(w));
      },
    });
    const plain = new Set(ends.map((w) => stateHash(w)));
    const renamed = ends.map((w) => {
      const c = cloneWorld(w);
      canonicalize(c);
      return c;
    });
    expect(plain.size).toBeGreaterThan(1);
    expect(new Set(renamed.map((w) => stateHash(w))).size).toBe(1);
    const again = cloneWorld(renamed[0]!);
    expect(canonicalize(again)).toBe(false);
    expect(stateHash(again)).toBe(stateHash(renamed[0]!));
  });
});
