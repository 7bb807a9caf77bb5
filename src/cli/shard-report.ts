/**
 * The report `check --shard k/n --json` (and `--swarm k/n --json`) prints and `merge` reads: one
 * JSON document, the search's identity (the tool's version, the scenario's and the scheme's
 * sha256, as a checkpoint has: ./checkpoint.ts) and the shard's report (src/run/shard.ts).
 * Reading checks each report and that they are the shards of one search: bad input names the file.
 */
import type { SearchIdentity } from './checkpoint.js';
import type { ShardReport } from '../run/shard.js';
import { InputError, showValue } from '../vocab/errors.js';
import { PROPERTY_NAMES } from '../vocab/properties.js';
import { readText } from './io.js';

export const SHARD_FORMAT = 'iommu-model-shard/1';

export interface ShardDocument extends SearchIdentity {
  readonly format: typeof SHARD_FORMAT;
  /** --scheme as the shard was given it, or the scenario header's. */
  readonly schemeArg: string;
  readonly seconds: number;
  readonly report: ShardReport;
}

export function shardDocument(id: SearchIdentity, schemeArg: string, seconds: number, report: ShardReport): string {
  const doc: ShardDocument = { format: SHARD_FORMAT, ...id, schemeArg, seconds: Number(seconds.toFixed(3)), report };
  return `${JSON.stringify(doc)}\n`;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown, min: number): v is number => Number.isSafeInteger(v) && (v as number) >= min;
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** One report, its shape checked (what merge relies on; a field that is wrong is named). */
export function readShardDocument(file: string): ShardDocument {
  let doc: unknown;
  try {
    doc = JSON.parse(readText(file));
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(file, null, null, `not a shard report: ${(e as Error).message}`);
  }
  const bad = (field: string, detail: string): InputError => new InputError(file, null, field, detail);
  if (!isRecord(doc) || doc['format'] !== SHARD_FORMAT) throw bad('format', `not a report of check --shard or --swarm --json (expected "${SHARD_FORMAT}")`);
  for (const f of ['tool', 'schemeArg'] as const) if (typeof doc[f] !== 'string') throw bad(f, `expected a string, got ${showValue(doc[f])}`);
  for (const f of ['scenario', 'scheme'] as const) {
    const v = doc[f];
    if (!isRecord(v) || typeof v['name'] !== 'string' || typeof v['sha256'] !== 'string') throw bad(f, `expected {name, sha256}, got ${showValue(v)}`);
  }
  const r = doc['report'];
  if (!isRecord(r)) throw bad('report', `expected an object, got ${showValue(r)}`);
  if (r['mode'] !== 'shard' && r['mode'] !== 'swarm') throw bad('report.mode', `expected "shard" or "swarm", got ${showValue(r['mode'])}`);
  if (!isInt(r['n'], 1) || !isInt(r['k'], 1) || r['k'] > r['n']) throw bad('report.k', `expected 1 <= k <= n, got ${showValue(r['k'])}/${showValue(r['n'])}`);
  if (!isStrings(r['tasks'])) throw bad('report.tasks', `expected task names, got ${showValue(r['tasks'])}`);
  const tasks = new Set(r['tasks']);
  const schedule = (field: string, v: unknown): void => {
    if (!isStrings(v) || v.some((t) => !tasks.has(t))) throw bad(field, `expected a schedule of the scenario's tasks, got ${showValue(v)}`);
  };
  if (!isInt(r['maxStates'], 0)) throw bad('report.maxStates', `expected a count, got ${showValue(r['maxStates'])}`);
  if (typeof r['exhausted'] !== 'boolean') throw bad('report.exhausted', `expected true or false, got ${showValue(r['exhausted'])}`);
  for (const part of ['prefix', 'own'] as const) {
    const c = r[part];
    if (!isRecord(c) || !['generated', 'distinct', 'terminal', 'depth'].every((f) => isInt(c[f], 0))) throw bad(`report.${part}`, `expected the counts {generated, distinct, terminal, depth}, got ${showValue(c)}`);
  }
  if (!Array.isArray(r['findings'])) throw bad('report.findings', `expected a list, got ${showValue(r['findings'])}`);
  r['findings'].forEach((f: unknown, i) => {
    const at = `report.findings[${i}]`;
    if (!isRecord(f) || !(PROPERTY_NAMES as readonly unknown[]).includes(f['property']) || typeof f['message'] !== 'string' || !isInt(f['seq'], 0)) throw bad(at, `expected {property, message, schedule, seq, at}, got ${showValue(f)}`);
    if (!['prologue', 'state', 'step'].includes(f['at'] as string)) throw bad(`${at}.at`, `expected "prologue", "state" or "step", got ${showValue(f['at'])}`);
    schedule(`${at}.schedule`, f['schedule']);
    if (f['at'] === 'step' && (f['schedule'] as string[]).length === 0) throw bad(`${at}.schedule`, 'a finding of a step has at least one step');
  });
  if (!Array.isArray(r['edges'])) throw bad('report.edges', `expected a list, got ${showValue(r['edges'])}`);
  r['edges'].forEach((e: unknown, i) => {
    const at = `report.edges[${i}]`;
    if (!isRecord(e) || !isRecord(e['edge']) || typeof e['edge']['from'] !== 'string' || typeof e['edge']['to'] !== 'string' || !isInt(e['index'], 0)) throw bad(at, `expected {edge, schedule, index}, got ${showValue(e)}`);
    schedule(`${at}.schedule`, e['schedule']);
    if ((e['schedule'] as string[]).length === 0) throw bad(`${at}.schedule`, 'an edge of a step has at least one step');
  });
  return doc as unknown as ShardDocument;
}

/**
 * The reports of one search: the same tool, scenario, scheme and tasks; shards k of one n, each
 * once and none missing; swarm runs each once. Bad input names the file that differs.
 */
export function readShardReports(files: readonly string[]): ShardDocument[] {
  const docs = files.map((f) => ({ file: f, doc: readShardDocument(f) }));
  const first = docs[0]!;
  const seen = new Map<string, string>();
  for (const { file, doc } of docs) {
    const bad = (field: string, detail: string): InputError => new InputError(file, null, field, `${detail} (${first.file} is of another)`);
    if (doc.tool !== first.doc.tool) throw bad('tool', `written by ${doc.tool}, not ${first.doc.tool}`);
    if (doc.scenario.sha256 !== first.doc.scenario.sha256) throw bad('scenario', `the report of another scenario (${doc.scenario.name})`);
    if (doc.scheme.name !== first.doc.scheme.name || doc.scheme.sha256 !== first.doc.scheme.sha256) throw bad('scheme', `the report of another scheme or version of it ('${doc.scheme.name}')`);
    if (doc.report.mode !== first.doc.report.mode) throw bad('report.mode', `a ${doc.report.mode} report, not a ${first.doc.report.mode} one`);
    if (doc.report.mode === 'shard' && doc.report.n !== first.doc.report.n) throw bad('report.n', `shard ${doc.report.k}/${doc.report.n} is of a search in ${doc.report.n} shards, not ${first.doc.report.n}`);
    const name = `${doc.report.k}/${doc.report.n}`;
    const dup = seen.get(name);
    if (dup !== undefined) throw new InputError(file, null, 'report.k', `${doc.report.mode} ${name} is there twice: ${dup} and ${file}`);
    seen.set(name, file);
  }
  if (first.doc.report.mode === 'shard') {
    const n = first.doc.report.n;
    const missing = Array.from({ length: n }, (_, i) => i + 1).filter((k) => !seen.has(`${k}/${n}`));
    if (missing.length > 0) throw new InputError('<command line>', null, 'reports', `shard${missing.length > 1 ? 's' : ''} ${missing.map((k) => `${k}/${n}`).join(', ')} missing: merge needs the report of every shard`);
  }
  return docs.sort((a, b) => a.doc.report.n - b.doc.report.n || a.doc.report.k - b.doc.report.k).map((d) => d.doc);
}
