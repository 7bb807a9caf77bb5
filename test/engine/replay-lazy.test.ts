/**
 * What the replay skips to go fast must not change what it reports: derived records built only
 * when read are the records built at once, a recorded derived record that differs still
 * diverges when nothing else reads them, and a step records only the lock edges new to the
 * replay's lock graph, which keeps LockOrder's verdict and its first witness.
 */
import { describe, expect, it } from 'vitest';
import { parseLog } from '../../src/log/reader.js';
import { recordLines, replayItems, type StepRecord } from '../../src/run/replay.js';
import { applyStimulus } from '../../src/run/engine.js';
import { Tx } from '../../src/core/tx.js';
import { emptyWorld } from '../../src/core/world.js';
import { builtinScheme } from '../../src/schemes/catalogue.js';
import { KERNEL } from '../../src/kernel/tables.js';
import { releaseOf } from '../../src/vocab/releases.js';
import type { Stimulus } from '../../src/vocab/records.js';
import { jsonl, mapDma, prefix, VA, MIB2, type Rec } from './helpers.js';

const HEADER = { format: 'iommu-model/1' };
const upstream = builtinScheme('upstream')!;

/** A set-up and one MAP_DMA, with the derived records a recording of it carries. */
function recorded(): string[] {
  const { header, items } = parseLog(jsonl(HEADER, [...prefix(), mapDma(VA, 0n, MIB2)]));
  const lines: string[] = [JSON.stringify(header)];
  replayItems(header, items, '<test>', (r) => lines.push(...recordLines(r)));
  return lines;
}

describe('derived records built when read', () => {
  it('are the records, fields and key order of the emit calls', () => {
    const tx = new Tx(emptyWorld(), upstream, 7, KERNEL, releaseOf({}));
    tx.cascade('outer', { a: 1 }, () => tx.emit('inner', { b: '0x10' }));
    tx.emit('last');
    expect(tx.emitted).toBe(3);
    expect(tx.derived.map((d) => JSON.stringify(d))).toEqual([
      '{"op":"outer","cause":7,"id":1,"a":1}',
      '{"op":"inner","cause":7,"id":2,"via":1,"b":"0x10"}',
      '{"op":"last","cause":7,"id":3}',
    ]);
  });

  it('a recorded derived record that differs diverges with no onStep, and the count is the same either way', () => {
    const lines = recorded();
    const at = lines.findIndex((l) => l.includes('"cause"') && l.includes('"op":"state"'));
    expect(at).toBeGreaterThan(0);
    const wrong = [...lines];
    wrong[at] = wrong[at]!.replace('"op":"state"', '"op":"statf"');
    const { header, items } = parseLog(wrong.join('\n'));
    const quiet = replayItems(header, items, '<test>').report;
    expect(quiet.divergences).toHaveLength(1);
    expect(quiet.divergences[0]!.decidedBy).toMatch(/^derived record \d+ of \d+$/);
    const steps: StepRecord[] = [];
    const watched = replayItems(header, items, '<test>', (r) => steps.push(r)).report;
    expect(watched.divergences).toEqual(quiet.divergences);
    expect(quiet.derived).toBe(steps.reduce((n, s) => n + s.derived.length, 0));
    const clean = parseLog(lines.join('\n'));
    expect(replayItems(clean.header, clean.items, '<test>').report.divergences).toEqual([]);
  });
});

describe('lock edges a step records', () => {
  /** The world after the set-up, and a MAP_DMA stimulus to apply to it. */
  function setUp(): { w: ReturnType<typeof emptyWorld>; s: Stimulus } {
    const { header, items } = parseLog(jsonl(HEADER, [...prefix(), mapDma(VA, 0n, MIB2)] as Rec[]));
    const stimuli = items.flatMap((it) => (it.kind === 'stimulus' ? [it.stimulus] : []));
    const w = emptyWorld();
    for (const s of stimuli.slice(0, -1)) applyStimulus(w, upstream, s, releaseOf(header));
    return { w, s: stimuli.at(-1)! };
  }

  it('are every edge without knownEdge, and only the unknown ones with it', () => {
    const all = applyStimulus(setUp().w, upstream, setUp().s, releaseOf({})).touched.lockEdges;
    expect(all.length).toBeGreaterThan(1);
    const first = all[0]!;
    const { w, s } = setUp();
    const rest = applyStimulus(w, upstream, s, releaseOf({}), (from, to) => from === first.from && to === first.to).touched.lockEdges;
    expect(rest).toEqual(all.filter((e) => e.from !== first.from || e.to !== first.to));
    const again = setUp();
    expect(applyStimulus(again.w, upstream, again.s, releaseOf({}), () => true).touched.lockEdges).toEqual([]);
  });
});
