/**
 * `gen`: every generated log is valid, replays with no divergence, and reaches what it is named
 * for by the model's own records (state records, decidedBy, step records); together the logs
 * cover every target but the documented gaps; and the errno catalogue misses no check of the
 * ioctl code.
 */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MACHINES, type ObjectMachineName } from '../../machines/index.js';
import { PATH_CONFIGS } from '../../machines/paths/index.js';
import { run } from '../cli-run.js';
import { parseLog } from '../../src/log/reader.js';
import { COVER_KINDS, generate, type Coverage, type CoverKind } from '../../src/run/gen/index.js';
import { allChecks, checkTarget } from '../../src/run/gen/errnos.js';
import { pathTarget, visitedStates } from '../../src/run/gen/paths.js';
import { allTransitions, TRANSITION_GAPS, transitionTarget, transitionsOf, witnessed } from '../../src/run/gen/transitions.js';
import { replayItems, type ReplayReport, type StepRecord } from '../../src/run/replay.js';

const COVERAGE = Object.fromEntries(COVER_KINDS.map((k) => [k, generate(k)])) as Record<CoverKind, Coverage>;

function replayed(text: string): { report: ReplayReport; steps: StepRecord[] } {
  const { header, items } = parseLog(text);
  const steps: StepRecord[] = [];
  const { report } = replayItems(header, items, '<gen>', (r) => steps.push(r));
  return { report, steps };
}

/** Whether a log shows its target, from a fresh replay of the text written. */
const REACHES: Record<CoverKind, (name: string, steps: StepRecord[]) => boolean> = {
  transitions: (name, steps) => witnessed(allTransitions().find((t) => transitionTarget(t).name === name)!, steps),
  errnos: (name, steps) => {
    const c = allChecks().find((x) => checkTarget(x).name === name)!;
    return steps.some((s) => s.outcome?.errno === c.errno && s.outcome.decidedBy === c.check);
  },
  paths: (name, steps) => {
    const state = Object.entries(PATH_CONFIGS).flatMap(([m, cfg]) => Object.keys(cfg.states).map((s) => `${m}.${s}`)).find((s) => pathTarget(s).name === name)!;
    return visitedStates(steps.filter((s) => s.stimulus.task === 'path')).has(state);
  },
};

describe.each(COVER_KINDS)('gen --cover %s', (kind) => {
  const c = COVERAGE[kind];

  it('writes logs the reader takes, each replaying with no divergence', () => {
    expect(c.logs.length).toBeGreaterThan(0);
    for (const l of c.logs) {
      expect(l.file).toBe(`${l.target.name}.jsonl`);
      expect(replayed(l.text).report.divergences, l.file).toEqual([]);
    }
  });

  it('gives every stimulus that returns an expectation', () => {
    for (const l of c.logs) {
      const { steps } = replayed(l.text);
      const returned = steps.flatMap((s) => (s.outcome === null ? [] : [s.returned ?? s.stimulus]));
      expect(returned.filter((s) => s.expect === undefined && s.op !== 'step').map((s) => `${l.file}:${s.line}`)).toEqual([]);
    }
  });

  it('writes a log that reaches each target it names', () => {
    for (const l of c.logs) expect(REACHES[kind](l.target.name, replayed(l.text).steps), l.file).toBe(true);
  });

  it('covers every target but the gaps, and says why for each gap', () => {
    const covered = c.logs.map((l) => l.target.name);
    const gaps = c.gaps.map((g) => g.target.name);
    expect([...covered, ...gaps].sort()).toEqual(c.targets.map((t) => t.name).sort());
    expect(new Set(c.targets.map((t) => t.name)).size).toBe(c.targets.length);
    for (const g of c.gaps) expect(g.why.length).toBeGreaterThan(20);
  });

  it('writes the same bytes every time', () => {
    expect(generate(kind).logs.map((l) => l.text)).toEqual(c.logs.map((l) => l.text));
  });
});

describe('what each criterion counts', () => {
  it('transitions: every transition of every object machine, the only gap the documented one', () => {
    const names = Object.keys(MACHINES) as ObjectMachineName[];
    expect(COVERAGE.transitions.targets).toHaveLength(names.reduce((n, m) => n + transitionsOf(m).length, 0));
    for (const m of names) expect(COVERAGE.transitions.logs.some((l) => l.target.name.startsWith(`transition-${m}-`)), m).toBe(true);
    expect(COVERAGE.transitions.gaps.map((g) => g.target.name)).toEqual(Object.keys(TRANSITION_GAPS).map((k) => `transition-${k.replaceAll('.', '-')}`));
  });

  it('paths: every state of every path machine, all of them reached', () => {
    const states = Object.values(PATH_CONFIGS).reduce((n, cfg) => n + Object.keys(cfg.states).length, 0);
    expect(COVERAGE.paths.targets).toHaveLength(states);
    expect(COVERAGE.paths.gaps).toEqual([]);
  });

  it('errnos: the catalogue has every check of the ioctl code, by errno and text', () => {
    const root = join(import.meta.dirname, '..', '..', 'src');
    const files = ['kernel/vfio/container.ts', 'kernel/vfio/group.ts', 'kernel/vfio/device.ts', 'kernel/vfio/fops.ts', 'kernel/vfio/pci/pm.ts', 'kernel/vfio/pci/reset.ts', 'core/lookup.ts', 'paths/map-dma.ts', 'paths/unmap-dma.ts']
      .concat(readdirSync(join(root, 'kernel/vfio/type1')).map((f) => `kernel/vfio/type1/${f}`));
    // open(2) of a group node is a syscall, not an ioctl; the use-after-free end of MAP_DMA is the model's, not a kernel check
    const notIoctl = [/no such device node/, /cdev_device_del removed the node/, /vfio_group_fops_open/, /KernelUseAfterFree/];
    const sites = files.flatMap((f) =>
      [...readFileSync(join(root, f), 'utf8').matchAll(/(?:tx\.fail\(|errno: )'(E[A-Z]+)',\s*(?:decidedBy: )?('[^']*'|`[^`]*`)/g)].map((m) => ({ file: f, errno: m[1]!, text: m[2]!.slice(1, -1) })),
    );
    expect(sites.length).toBeGreaterThan(60);
    const pattern = (text: string): RegExp => new RegExp(`^${text.split(/\$\{[^}]*\}/).map((p) => p.replace(/[.*+?^$()|[\]\\{}]/g, '\\$&')).join('.*')}$`);
    const missing = sites
      .filter((s) => !notIoctl.some((r) => r.test(s.text)))
      .filter((s) => !allChecks().some((c) => c.errno === s.errno && pattern(s.text).test(c.check)))
      .map((s) => `${s.file}: ${s.errno} ${s.text}`);
    expect(missing).toEqual([]);
  });
});

describe('iommu-model gen', () => {
  it('writes one log per covered target, prints the coverage with the gaps, and replaces only its own stale logs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iommu-model-gen-'));
    writeFileSync(join(dir, 'transition-gone-GONE.jsonl'), '{}\n');
    writeFileSync(join(dir, 'errno-mine.jsonl'), '{}\n');
    const r = await run('gen', '--cover', 'transitions', '-o', dir);
    expect(r.code).toBe(0);
    const c = COVERAGE.transitions;
    expect(r.out).toContain(`gen --cover transitions: ${c.logs.length} of ${c.targets.length} transitions covered`);
    for (const g of c.gaps) expect(r.out).toContain(`  ${g.target.title}\n    why: ${g.why}`);
    expect(readdirSync(dir).sort()).toEqual([...c.logs.map((l) => l.file), 'errno-mine.jsonl'].sort());
    for (const l of c.logs) expect(readFileSync(join(dir, l.file), 'utf8')).toBe(l.text);
  });

  it('refuses an unknown criterion and an output that is not a folder (exit 2), writing nothing', async () => {
    const bad = await run('gen', '--cover', 'lines');
    expect(bad.code).toBe(2);
    expect(bad.err).toBe('iommu-model: <command line>: field \'--cover\': expected one of transitions, errnos, paths, got "lines"\n');
    const file = join(mkdtempSync(join(tmpdir(), 'iommu-model-gen-')), 'taken');
    writeFileSync(file, 'mine\n');
    const r = await run('gen', '--cover', 'paths', '-o', file);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`iommu-model: ${file}: field '-o': not a directory\n`);
    expect(readFileSync(file, 'utf8')).toBe('mine\n');
  });
});
