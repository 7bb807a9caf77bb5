/**
 * `check --workers N`: the shards of a search (src/run/shard.ts) run on N worker threads of this
 * process (node:worker_threads), the parent merging their reports as `merge` does. The parent
 * runs the prefix once and hands each worker a shard at a time: the prefix's state (schedules,
 * no worlds) and the shard's number. A worker reads the scenario and the scheme itself
 * (./worker.ts). The shards are always WORKER_SHARDS, whatever N, so that the result is the same
 * for every N; the reports are merged in shard order, whatever order they finish in.
 */
import { Worker } from 'node:worker_threads';
import type { Prefix, ShardReport } from '../run/shard.js';
import { InputError } from '../vocab/errors.js';

/** How many shards `--workers` splits a search into, for every N (more balance the load; fewer repeat less work). */
export const WORKER_SHARDS = 16;

/** What a worker needs to run one shard. */
export interface ShardJob {
  readonly file: string;
  readonly maxLine: number;
  readonly schemeArg: string | undefined;
  readonly maxStates: number;
  readonly maxMemory: number;
  readonly timeLimit: number | null;
  readonly prefix: Prefix;
  readonly k: number;
  readonly n: number;
}

export type WorkerReply =
  | { readonly k: number; readonly report: ShardReport }
  | { readonly k: number; readonly input: { readonly file: string; readonly line: number | null; readonly field: string | null; readonly detail: string } }
  | { readonly k: number; readonly error: string };

/**
 * A worker thread running ./worker: from dist/ the compiled worker.js; from the sources (tests,
 * tsx) worker-source.mjs, which has tsx compile worker.ts on load.
 */
function spawn(): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) return new Worker(new URL('./worker-source.mjs', here));
  return new Worker(new URL('./worker.js', here));
}

/** Runs shards 1..n of `base` on `workers` threads; the reports in shard order. */
export async function runShards(workers: number, base: Omit<ShardJob, 'k'>): Promise<ShardReport[]> {
  const reports: ShardReport[] = [];
  let next = 1;
  const one = (w: Worker): Promise<void> =>
    new Promise((resolve, reject) => {
      const give = (): void => {
        if (next > base.n) {
          resolve();
          return;
        }
        const job: ShardJob = { ...base, k: next };
        next += 1;
        w.postMessage(job);
      };
      w.on('message', (m: WorkerReply) => {
        if ('report' in m) {
          reports[m.k - 1] = m.report;
          give();
        } else if ('input' in m) reject(new InputError(m.input.file, m.input.line, m.input.field, m.input.detail));
        else reject(new Error(`shard ${m.k}/${base.n}: ${m.error}`));
      });
      w.on('error', reject);
      w.on('exit', (code) => {
        if (code !== 0) reject(new Error(`a worker thread exited with code ${code}`));
      });
      give();
    });
  const pool = Array.from({ length: Math.min(workers, base.n) }, spawn);
  try {
    await Promise.all(pool.map(one));
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
  return reports;
}
