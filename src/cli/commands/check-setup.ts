/**
 * What every kind of `check` run reads first (a plain search, a shard, workers, a swarm): its
 * options, the scenario and the scheme, and the limits. Bad input here is exit 2.
 */
import { scenarioOf, type Scenario } from '../../run/explore.js';
import { schemeOfLog } from '../../run/replay.js';
import { requireSetup } from '../../run/verdicts.js';
import type { Scheme } from '../../schemes/scheme.js';
import { InputError, showValue } from '../../vocab/errors.js';
import type { Header } from '../../vocab/records.js';
import { searchIdentity, type SearchIdentity } from '../checkpoint.js';
import { parseSize, readLog } from '../io.js';
import { parseLimits } from '../limits.js';
import { loadScheme, scenarioFile } from '../resolve.js';

export interface CheckOptions {
  scenario: string;
  /** Instead of the scenario header's scheme. */
  scheme?: string;
  maxStates: string;
  out?: string;
  json?: boolean;
  maxLine: string;
  maxMemory?: string;
  timeLimit?: string;
  checkpoint?: string;
  resume?: string;
  /** True with --reduction, false with --no-reduction (the default). */
  reduction?: boolean;
  /** --symmetry: states equal up to vfio_dma ids and RAM addresses are one (src/core/symmetry.ts). */
  symmetry?: boolean;
  /** Scale-out (./scale.ts): one shard of the search, its split depth, worker threads, a swarm run. */
  shard?: string;
  shardDepth?: string;
  workers?: string;
  swarm?: string;
}

/** A positive integer flag's value (bad input otherwise). */
export const positive = (flag: string, text: string): number => {
  if (!/^[1-9][0-9]*$/.test(text)) throw new InputError('<command line>', null, flag, `expected a positive integer, got ${showValue(text)}`);
  return Number(text);
};

/** What every kind of check run reads first: the scenario, the scheme, the limits. */
export interface Setup {
  readonly header: Header;
  readonly sc: Scenario;
  readonly scheme: Scheme;
  readonly file: string;
  readonly id: SearchIdentity;
  readonly maxStates: number;
  readonly maxLine: number;
  readonly limits: ReturnType<typeof parseLimits>;
}

/** Reads check's options, the scenario and the scheme (bad input: exit 2), as every check run does. */
export async function setup(o: CheckOptions): Promise<Setup> {
  const maxStates = positive('--max-states', o.maxStates);
  const maxLine = parseSize(o.maxLine, '--max-line');
  const limits = parseLimits(o);
  const override = o.scheme === undefined ? undefined : await loadScheme(o.scheme);
  const file = scenarioFile(o.scenario);
  const { header, items } = await readLog(file, { maxLine });
  const scheme = schemeOfLog(header, file, override);
  const sc = scenarioOf(header, items, file);
  requireSetup(header, items, file, scheme);
  return { header, sc, scheme, file, id: searchIdentity(o.scenario, file, scheme), maxStates, maxLine, limits };
}

