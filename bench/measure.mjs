// Running measurements: each in a child process (bench/child.mjs, or a whole command), variants
// interleaved (A B A B ...) so that drift in the machine's speed falls on both, and the median
// with min and max of each figure.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./child.mjs', import.meta.url));

const now = () => Number(process.hrtime.bigint()) / 1e6;

/** Runs a command to its exit: its stdout, exit code and wall time from spawn to exit (ms). */
export function runProcess(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    const t0 = now();
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('error', (e) => resolve({ code: -1, wallMs: now() - t0, stdout: out, stderr: String(e) }));
    p.on('close', (code, signal) => resolve({ code: code ?? -1, signal, wallMs: now() - t0, stdout: out, stderr: err }));
  });
}

/** One job in a fresh child process; its result, with the child's whole wall time. */
export async function child(job, nodeArgs = []) {
  const r = await runProcess(process.execPath, ['--expose-gc', ...nodeArgs, CHILD, JSON.stringify(job)]);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return { ...JSON.parse(line), wallMs: r.wallMs };
  } catch {
    return { code: -1, error: `child died (exit ${r.code}${r.signal ? `, ${r.signal}` : ''}): ${r.stderr.trim().split('\n').slice(-2).join(' ').slice(0, 300)}`, wallMs: r.wallMs };
  }
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median, min and max of a list of numbers. */
export function stats(xs) {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
}

/**
 * Runs `variants` (each `() => Promise<result>`) in turn, round after round: at least `min`
 * rounds, at most `max`, and no new round once `budgetMs` is spent. A round stops early when a
 * run fails (result.code < 0). Returns each variant's results, in order.
 */
export async function interleave(variants, { min = 3, max = 5, budgetMs = Infinity } = {}) {
  const runs = variants.map(() => []);
  const t0 = now();
  for (let round = 0; round < max; round += 1) {
    if (round >= min && now() - t0 >= budgetMs) break;
    for (let v = 0; v < variants.length; v += 1) {
      const r = await variants[v]();
      runs[v].push(r);
      if (r.code < 0) return runs;
    }
    // a round that alone takes the budget is the only one past `min` 1
    if (round + 1 >= min && (now() - t0) / (round + 1) > budgetMs) break;
  }
  return runs;
}

/** The ratio a/b pair by pair (the same round), as median, min, max. */
export function pairRatios(a, b, key = 'ms') {
  const n = Math.min(a.length, b.length);
  const rs = [];
  for (let i = 0; i < n; i += 1) if (b[i][key] > 0) rs.push(a[i][key] / b[i][key]);
  return rs.length === 0 ? null : stats(rs);
}

/**
 * The time of the next run of a growing series, predicted from its last two: the last times
 * the last growth factor, kept within 2 to 10 (state spaces grow at least twice per size step
 * here), and 4 when the runs so far are too short (under 250 ms) for their ratio to mean much.
 */
export function predictNext(times) {
  if (times.length === 0) return 0;
  const last = times[times.length - 1];
  const prev = times.length >= 2 ? times[times.length - 2] : 0;
  const growth = prev >= 250 ? Math.min(10, Math.max(2, last / prev)) : 4;
  return last * growth;
}
