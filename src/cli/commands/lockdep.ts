/**
 * `lockdep <splat>`: reads a lockdep report (src/import/lockdep.ts), builds the model's
 * lock-class graph under the scheme over every built-in scenario (src/run/lockdep.ts) and says
 * whether the report's cycle is in it, through which kernel paths, and which scenario reaches it.
 * Exit 0 found, 1 not found, 2 bad input (not a lockdep report).
 */
import { parseLockdep } from '../../import/lockdep.js';
import { LOCKDEP_MAX_STATES, modelGraph, relate, type ScenarioIn } from '../../run/lockdep.js';
import { scenarioOf } from '../../run/explore.js';
import { builtinScheme } from '../../schemes/catalogue.js';
import { InputError, showValue } from '../../vocab/errors.js';
import { EXIT_CLEAN, EXIT_FOUND, readLog, readText, type Io } from '../io.js';
import { lockdepJson, renderLockdep } from '../render/lockdep.js';
import { builtinScenarios, loadScheme, scenarioFile } from '../resolve.js';

export interface LockdepOptions {
  scheme?: string;
  json?: boolean;
  maxStates?: string;
}

function maxStatesOf(v: string | undefined): number {
  if (v === undefined) return LOCKDEP_MAX_STATES;
  if (!/^[1-9]\d*$/.test(v)) throw new InputError('<command line>', null, '--max-states', `expected a positive integer, got ${showValue(v)}`);
  return Number(v);
}

async function scenarios(): Promise<ScenarioIn[]> {
  const out: ScenarioIn[] = [];
  for (const name of builtinScenarios()) {
    const file = scenarioFile(name);
    const { header, items } = await readLog(file);
    out.push({ name, scenario: scenarioOf(header, items, file), items });
  }
  return out;
}

export async function runLockdep(io: Io, file: string, o: LockdepOptions): Promise<number> {
  const maxStates = maxStatesOf(o.maxStates);
  const report = parseLockdep(readText(file), file);
  const scheme = o.scheme === undefined ? builtinScheme('upstream')! : await loadScheme(o.scheme);
  // Only a cycle is looked for in the model's graph: the other kinds need no exploring.
  const graph = modelGraph(report.kind === 'circular' ? await scenarios() : [], scheme, maxStates);
  const rel = relate(report, graph);
  io.stdout(o.json === true ? lockdepJson(file, report, graph, rel) : renderLockdep(file, report, graph, rel));
  return rel.found ? EXIT_CLEAN : EXIT_FOUND;
}

