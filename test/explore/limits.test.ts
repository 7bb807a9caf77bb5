/**
 * The explorer cut off and continued: `shouldStop` is polled every `pollEvery` states and its
 * reason is the report's `cutOff`; a search cut into pieces (by --max-states or by a stop) and
 * resumed from its SearchState, passed through JSON as a checkpoint file passes it, gives the
 * same report as one run: verdicts, shortest counterexamples, state counts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { explore, scenarioOf, type ExploreOptions, type ExploreReport, type Scenario, type SearchState } from '../../src/run/explore.js';
import { parseLog } from '../../src/log/reader.js';
import { builtinScheme } from '../../src/schemes/catalogue.js';
import { defineScheme, type Scheme } from '../../src/schemes/scheme.js';
import { InputError } from '../../src/vocab/errors.js';

const ROOT = join(import.meta.dirname, '..', '..');
const MAX = 200_000;

function scenario(name: string): Scenario {
  const file = join(ROOT, 'src', 'scenarios', `${name}.jsonl`);
  const { header, items } = parseLog(readFileSync(file, 'utf8'), file);
  return scenarioOf(header, items, file);
}

async function scheme(name: string): Promise<Scheme> {
  const builtin = builtinScheme(name);
  if (builtin !== undefined) return builtin;
  const url = pathToFileURL(join(ROOT, 'test', 'fixtures', 'schemes', `${name}.mjs`)).href;
  return defineScheme(((await import(url)) as { default: Scheme }).default);
}

/** What a run's report says about the search, without what differs between runs by design. */
function verdict(r: ExploreReport): object {
  const { state, resumedAt, cutOff, ...rest } = r;
  void [state, resumedAt, cutOff];
  return rest;
}

/** A stop that says `reason` on its n-th call, and counts its calls. */
function stopOnCall(n: number, reason = 'stub limit reached'): { stop: () => string | null; calls: () => number } {
  let calls = 0;
  return { stop: () => ((calls += 1) >= n ? reason : null), calls: () => calls };
}

/** Runs the search in pieces, each resumed from the last one's state (through JSON); the last report and the number of pieces. */
function inPieces(sc: Scenario, s: Scheme, piece: (i: number) => Partial<ExploreOptions>): { report: ExploreReport; pieces: number } {
  let state: SearchState | undefined;
  for (let i = 1; ; i += 1) {
    const report = explore(sc, s, { maxStates: MAX, checkpoint: true, ...piece(i), ...(state === undefined ? {} : { resume: { state, file: 'cp.json' } }) });
    if (report.exhausted) return { report, pieces: i };
    expect(report.state).toBeDefined();
    state = JSON.parse(JSON.stringify(report.state)) as SearchState;
  }
}

// Pairs with LockOrder cycles (of 2 to 8 steps; under bar-notifier-naive the one-history search
// takes 197 states, more than a piece's budget), NoDeadlock, and clean pairs.
const PAIRS: ReadonlyArray<readonly [string, string]> = [
  ['map-vs-munmap', 'notifier-takes-iommu-lock'],
  ['mdev-unmap-vs-unmap', 'upstream'],
  ['zap-vs-p2p-map', 'bar-notifier-naive'],
  ['zap-vs-p2p-map', 'upstream'],
  ['vm-lifecycle', 'upstream'],
];

describe('a search cut off by shouldStop', () => {
  it('is polled every pollEvery generated states and reports the reason it gave', async () => {
    const sc = scenario('zap-vs-p2p-map');
    const { stop, calls } = stopOnCall(3);
    const r = explore(sc, await scheme('upstream'), { maxStates: MAX, shouldStop: stop, pollEvery: 4 });
    // polled at 4, 8 and 12 states (the initial state counts): the third call stops it there
    expect(calls()).toBe(3);
    expect(r.statesGenerated).toBe(12);
    expect(r.exhausted).toBe(false);
    expect(r.cutOff).toBe('stub limit reached');
    expect(r.state).toBeUndefined();
  });

  it('says --max-states when the state budget cut it, and is exhausted with no cutOff otherwise', async () => {
    const sc = scenario('map-vs-munmap');
    const up = await scheme('upstream');
    expect(explore(sc, up, { maxStates: 5 }).cutOff).toBe('--max-states');
    const whole = explore(sc, up, { maxStates: MAX, shouldStop: () => null });
    expect(whole.exhausted).toBe(true);
    expect(whole.cutOff).toBeUndefined();
  });
});

describe('a search run in pieces gives what one run gives', () => {
  for (const [name, schemeName] of PAIRS) {
    it(`${name} under ${schemeName}: resumed after every 7 states`, async () => {
      const sc = scenario(name);
      const s = await scheme(schemeName);
      const one = explore(sc, s, { maxStates: MAX });
      const { report, pieces } = inPieces(sc, s, () => ({ maxStates: 7 }));
      expect(pieces).toBeGreaterThan(2);
      expect(report.resumedAt).toBeGreaterThan(0);
      expect(verdict(report)).toEqual(verdict(one));
    });
  }

  it('zap-vs-p2p-map under upstream: resumed after each stop of shouldStop, polled every state', async () => {
    const sc = scenario('zap-vs-p2p-map');
    const s = await scheme('upstream');
    const one = explore(sc, s, { maxStates: MAX });
    // each piece stops on its 11th poll, 10 states after it began
    const { report, pieces } = inPieces(sc, s, () => ({ shouldStop: stopOnCall(11).stop, pollEvery: 1 }));
    expect(pieces).toBe(Math.ceil((one.statesGenerated - 1) / 10));
    expect(verdict(report)).toEqual(verdict(one));
  });

  it('keeps no world in its state: the tree is pruned to the schedules still to expand', async () => {
    const r = explore(scenario('zap-vs-p2p-map'), await scheme('upstream'), { maxStates: 60, checkpoint: true });
    const st = r.state!;
    expect(st.visited).toHaveLength(r.distinctStates);
    expect(st.parent.length).toBeLessThan(r.distinctStates);
    expect(st.layer.length + st.next.length).toBeGreaterThan(0);
    expect(Object.keys(st).sort()).toEqual(['cycles', 'depth', 'findings', 'generated', 'layer', 'lockEdges', 'next', 'parent', 'skip', 'task', 'terminal', 'visited']);
    // with reduction, also the sleep sets of the nodes still to expand: task names, not worlds
    const red = explore(scenario('zap-vs-p2p-map'), await scheme('upstream'), { maxStates: 60, checkpoint: true, reduction: true }).state!;
    expect(Object.keys(red).filter((k) => !(k in st))).toEqual(['reduction']);
  });
});

describe('resuming a state the model does not reach', () => {
  it('is refused as bad input naming the checkpoint', async () => {
    const sc = scenario('zap-vs-p2p-map');
    const s = await scheme('upstream');
    const st = explore(sc, s, { maxStates: 30, checkpoint: true }).state!;
    // a checkpoint that saw only the initial state: the schedules in it lead elsewhere
    const other: SearchState = { ...st, visited: st.visited.slice(0, 1) };
    expect(() => explore(sc, s, { maxStates: MAX, resume: { state: other, file: 'old.json' } })).toThrow(InputError);
    expect(() => explore(sc, s, { maxStates: MAX, resume: { state: other, file: 'old.json' } })).toThrow(/^old\.json: field 'layer': the schedule .* reaches a state the search never saw/);
  });
});
