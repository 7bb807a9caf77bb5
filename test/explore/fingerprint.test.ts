/**
 * The explorer's incremental fingerprints on copy-on-write worlds (src/core/states.ts) against
 * the references they replace: on every built-in scenario and golden log, each state's cached,
 * incremental fingerprint equals the same function computed from scratch; no step changes its
 * parent world (the worlds are frozen once stepped, and each is compared with its own text at the
 * end of the search); and the search merges exactly the states the deep copy and the canonical
 * text's hash merged, with the same report.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explore, scenarioOf, type ExploreOptions, type ExploreReport } from '../../src/run/explore.js';
import { parseLog } from '../../src/log/reader.js';
import { builtinScheme } from '../../src/schemes/catalogue.js';
import { canonical, kernelState } from '../../src/core/fingerprint.js';
import { stateHash } from '../../src/core/hash.js';
import { cowDebug } from '../../src/core/cow.js';
import type { World } from '../../src/core/world.js';
import type { Stimulus } from '../../src/vocab/records.js';

const ROOT = join(import.meta.dirname, '..', '..');
const FILES = [
  ...readdirSync(join(ROOT, 'src', 'scenarios')).map((f) => join(ROOT, 'src', 'scenarios', f)),
  ...readdirSync(join(ROOT, 'test', 'fixtures')).map((f) => join(ROOT, 'test', 'fixtures', f)),
].filter((f) => f.endsWith('.jsonl'));
const upstream = builtinScheme('upstream')!;
const name = (f: string): string => f.slice(ROOT.length + 1);

function run(file: string, opts: Partial<ExploreOptions>): ExploreReport {
  const { header, items } = parseLog(readFileSync(file, 'utf8'), file);
  return explore(scenarioOf(header, items, file), upstream, { maxStates: 200_000, edges: true, ...opts });
}

describe('incremental fingerprints on copy-on-write worlds', () => {
  beforeAll(() => cowDebug(true));
  afterAll(() => cowDebug(false));

  it.each(FILES.map(name))('%s: every state fingerprints as from scratch, and no step changes its parent', (f) => {
    const text = new Map<World, string>();
    const snap = (w: World): void => {
      if (!text.has(w)) text.set(w, canonical(kernelState(w)));
    };
    let wrong = 0;
    let states = 0;
    const r = run(join(ROOT, f), {
      onState: (w, fp, parent) => {
        states += 1;
        snap(parent);
        snap(w);
        if (stateHash(w) !== fp) wrong += 1;
      },
    });
    expect(r.exhausted).toBe(true);
    expect(states).toBe(r.statesGenerated - 1);
    expect(wrong).toBe(0);
    const changed = [...text].filter(([w, t]) => canonical(kernelState(w)) !== t).length;
    expect(changed).toBe(0);
  });
});

describe('the incremental search merges the states the reference search merges', () => {
  it.each(FILES.map(name))('%s gives the same report with either', (f) => {
    const inc = run(join(ROOT, f), { fingerprints: 'incremental' });
    const ref = run(join(ROOT, f), { fingerprints: 'reference' });
    expect(inc).toEqual(ref);
  });
});

describe('the structural fingerprint', () => {
  const start = (): World => {
    let w: World | null = null;
    run(join(ROOT, 'src', 'scenarios', 'map-vs-munmap.jsonl'), { maxStates: 2, onState: (_w, _fp, parent) => (w ??= parent) });
    return w!;
  };

  it('does not depend on the order a Map was filled in', () => {
    const w = start();
    const reversed = { ...w, tasks: new Map([...w.tasks].reverse()), processes: new Map([...w.processes].reverse()) };
    expect(w.tasks.size).toBeGreaterThan(1);
    expect(stateHash(reversed)).toBe(stateHash(w));
  });

  it('changes with a kernel field, and not with a record line, comment or expectation', () => {
    const w = start();
    const [tname, t] = [...w.tasks][0]!;
    const requeue = (f: (s: Stimulus) => object): World => ({
      ...w,
      tasks: new Map([...w.tasks, [tname, { ...t, queue: t.queue.map((s) => ({ ...f(s) }) as typeof s) }]]),
    });
    expect(stateHash(requeue((s) => ({ ...s, line: 999, comment: 'x', expect: { ret: 7n } })))).toBe(stateHash(w));
    expect(stateHash(requeue((s) => ({ ...s, pid: 4242 })))).not.toBe(stateHash(w));
    expect(stateHash({ ...w, nextId: w.nextId + 1 })).not.toBe(stateHash(w));
  });
});
