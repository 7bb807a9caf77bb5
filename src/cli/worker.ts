/**
 * The entry of a `check --workers` thread (./workers.ts): runs the shards its parent sends, one
 * at a time, and answers each with the shard's report, or with the error it met (bad input is
 * sent as its parts, so that the parent reports it as check does).
 */
import { parentPort } from 'node:worker_threads';
import { scenarioOf } from '../run/explore.js';
import { schemeOfLog } from '../run/replay.js';
import { exploreFromPrefix } from '../run/shard.js';
import type { Scheme } from '../schemes/scheme.js';
import { InputError } from '../vocab/errors.js';
import { readLog } from './io.js';
import { stopAtLimits } from './limits.js';
import { loadScheme } from './resolve.js';
import type { ShardJob, WorkerReply } from './workers.js';

const schemes = new Map<string, Promise<Scheme | undefined>>();

async function run(job: ShardJob): Promise<WorkerReply> {
  try {
    const key = job.schemeArg ?? '';
    if (!schemes.has(key)) schemes.set(key, job.schemeArg === undefined ? Promise.resolve(undefined) : loadScheme(job.schemeArg));
    const override = await schemes.get(key)!;
    const { header, items } = await readLog(job.file, { maxLine: job.maxLine });
    const scheme = schemeOfLog(header, job.file, override);
    const sc = scenarioOf(header, items, job.file);
    const shouldStop = stopAtLimits({ maxMemory: job.maxMemory, timeLimit: job.timeLimit }, process.hrtime.bigint());
    return { k: job.k, report: exploreFromPrefix(sc, scheme, job.prefix, { k: job.k, n: job.n }, { maxStates: job.maxStates, shouldStop }) };
  } catch (e) {
    if (e instanceof InputError) return { k: job.k, input: { file: e.file, line: e.line, field: e.field, detail: e.detail } };
    return { k: job.k, error: e instanceof Error ? e.message : String(e) };
  }
}

parentPort!.on('message', (job: ShardJob) => {
  void run(job).then((reply) => parentPort!.postMessage(reply));
});
