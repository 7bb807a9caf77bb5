/**
 * check's checkpoint file (--checkpoint, --resume), as TLC's -recover: one JSON document, the
 * identity of the search (the tool's version, the scenario's content hash, the scheme's name
 * and the hash of what it decides) and the explorer's SearchState, which holds no worlds, only
 * schedules. The visited fingerprints are packed: sorted, as base-36 differences. Written
 * through writeAtomic; a checkpoint of another scenario, scheme or version is refused (exit 2).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { canonical } from '../core/fingerprint.js';
import type { SearchState } from '../run/explore.js';
import type { Scheme } from '../schemes/scheme.js';
import { InputError } from '../vocab/errors.js';
import { PROPERTY_NAMES } from '../vocab/properties.js';
import { packageRoot, readText, writeAtomic } from './io.js';
import { checkOutput } from './output.js';

export const CHECKPOINT_FORMAT = 'iommu-model-checkpoint/1';

/** What a checkpoint must match to be resumed. */
export interface SearchIdentity {
  readonly tool: string;
  /** The scenario as --scenario named it, and the hash of its file. */
  readonly scenario: { readonly name: string; readonly sha256: string };
  readonly scheme: { readonly name: string; readonly sha256: string };
}

const sha256 = (text: string | Buffer): string => createHash('sha256').update(text).digest('hex');

/** The search of the scenario (`name`, read from `file`) under `scheme` by this version of the tool. */
export function searchIdentity(name: string, file: string, scheme: Scheme): SearchIdentity {
  const { version } = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  // What the scheme decides, not how it is described: its summary, source and expectations do not change the search.
  const { summary, source, expect, expectNotRun, ...decides } = scheme;
  void [summary, source, expect, expectNotRun];
  return {
    tool: `iommu-model ${version}`,
    scenario: { name, sha256: sha256(readFileSync(file)) },
    scheme: { name: scheme.name, sha256: sha256(canonical(decides)) },
  };
}

/** Refuses, before a search starts, a checkpoint file that could not be written when it ends. */
export function checkWritable(file: string): void {
  if (!existsSync(dirname(resolve(file)))) throw new InputError(file, null, null, `cannot write a checkpoint: no directory ${dirname(file)}`);
  checkOutput(file);
}

export function writeCheckpoint(file: string, id: SearchIdentity, s: SearchState): void {
  const sorted = [...s.visited].sort((a, b) => a - b);
  const visited = sorted.map((fp, i) => (fp - (i === 0 ? 0 : sorted[i - 1]!)).toString(36)).join(',');
  writeAtomic(file, `${JSON.stringify({ format: CHECKPOINT_FORMAT, ...id, search: { ...s, visited } })}\n`);
}

/** Reads a checkpoint and checks it is of the search `id` names; the search state in it. */
export function readCheckpoint(file: string, id: SearchIdentity): SearchState {
  const text = readText(file);
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new InputError(file, null, null, `not a checkpoint: ${(e as Error).message}`);
  }
  const bad = (field: string, detail: string): InputError => new InputError(file, null, field, detail);
  if (typeof doc !== 'object' || doc === null || doc['format'] !== CHECKPOINT_FORMAT) throw bad('format', `not a checkpoint of iommu-model check (expected "${CHECKPOINT_FORMAT}")`);
  if (doc['tool'] !== id.tool) throw bad('tool', `written by ${String(doc['tool'])}, this is ${id.tool}: run the search again`);
  const sc = doc['scenario'] as SearchIdentity['scenario'] | undefined;
  if (sc?.sha256 !== id.scenario.sha256) throw bad('scenario', `the checkpoint is of another scenario (${String(sc?.name)}, sha256 ${String(sc?.sha256).slice(0, 12)}), not of ${id.scenario.name} (sha256 ${id.scenario.sha256.slice(0, 12)})`);
  const scheme = doc['scheme'] as SearchIdentity['scheme'] | undefined;
  if (scheme?.name !== id.scheme.name) throw bad('scheme', `the checkpoint is of scheme '${String(scheme?.name)}', not '${id.scheme.name}'`);
  if (scheme.sha256 !== id.scheme.sha256) throw bad('scheme', `the checkpoint is of another version of scheme '${id.scheme.name}' (its policy values differ)`);
  return searchState(doc['search'], bad);
}

type Bad = (field: string, detail: string) => InputError;

const isInt = (v: unknown, min: number): boolean => Number.isSafeInteger(v) && (v as number) >= min;
const isStrings = (v: unknown): boolean => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The SearchState of a checkpoint's `search`, its shape checked so that a damaged file is bad input, not a crash. */
function searchState(v: unknown, bad: Bad): SearchState {
  if (!isRecord(v)) throw bad('search', 'missing');
  const ints = (field: string, min: number): number[] => {
    const a = v[field];
    if (!Array.isArray(a) || !a.every((x) => isInt(x, min))) throw bad(`search.${field}`, `expected an array of integers >= ${min}`);
    return a as number[];
  };
  const int = (field: string): number => {
    if (!isInt(v[field], 0)) throw bad(`search.${field}`, 'expected an integer >= 0');
    return v[field] as number;
  };
  if (typeof v['visited'] !== 'string' || !/^[0-9a-z]+(,[0-9a-z]+)*$/.test(v['visited'])) throw bad('search.visited', 'expected base-36 numbers separated by commas');
  let fp = 0;
  const visited = v['visited'].split(',').map((d) => (fp += parseInt(d, 36)));
  const parent = ints('parent', -1);
  const task = ints('task', -1);
  if (parent.length === 0 || parent.length !== task.length || parent.some((p, i) => (i === 0 ? p !== -1 : p < 0 || p >= i))) throw bad('search.parent', 'not a schedule tree (node 0 the root, each parent before its child)');
  const nodes = (field: string): number[] => {
    const a = ints(field, 0);
    if (a.some((i) => i >= parent.length)) throw bad(`search.${field}`, 'names a node the tree does not have');
    return a;
  };
  const findings = v['findings'];
  if (!Array.isArray(findings) || !findings.every((f) => isRecord(f) && (PROPERTY_NAMES as readonly unknown[]).includes(f['property']) && typeof f['message'] === 'string' && isStrings(f['schedule']) && isInt(f['seq'], 0))) {
    throw bad('search.findings', 'expected findings as check writes them');
  }
  const edges = v['lockEdges'];
  if (!Array.isArray(edges) || !edges.every((e) => isRecord(e) && ['from', 'to', 'task', 'where'].every((k) => typeof e[k] === 'string') && isStrings(e['chain']))) {
    throw bad('search.lockEdges', 'expected lock edges as check writes them');
  }
  if (!isStrings(v['cycles'])) throw bad('search.cycles', 'expected an array of strings');
  const layer = nodes('layer');
  const next = nodes('next');
  return {
    visited,
    parent,
    task,
    layer,
    skip: int('skip'),
    next,
    generated: int('generated'),
    depth: int('depth'),
    terminal: int('terminal'),
    findings: findings as unknown as SearchState['findings'],
    cycles: v['cycles'] as string[],
    lockEdges: edges as unknown as SearchState['lockEdges'],
    ...(v['reduction'] === undefined ? {} : { reduction: reductionState(v['reduction'], layer.length, next.length, bad) }),
  };
}

/** The sleep sets of a search with partial-order reduction (src/run/reduction.ts), their shape checked. */
function reductionState(v: unknown, layer: number, next: number, bad: Bad): NonNullable<SearchState['reduction']> {
  const sleeps = (a: unknown, n: number): boolean => Array.isArray(a) && a.length === n && a.every(isStrings);
  if (!isRecord(v) || !sleeps(v['layer'], layer) || !sleeps(v['next'], next)) throw bad('search.reduction', 'expected the sleeping tasks of each node still to expand');
  const fps = v['nextFingerprints'];
  if (!Array.isArray(fps) || fps.length !== next || !fps.every((x) => isInt(x, 0))) throw bad('search.reduction.nextFingerprints', 'expected one fingerprint per node of the next layer');
  if (!isInt(v['pruned'], 0)) throw bad('search.reduction.pruned', 'expected an integer >= 0');
  return { layer: v['layer'] as string[][], next: v['next'] as string[][], nextFingerprints: fps as number[], pruned: v['pruned'] as number };
}
