// The bench's sizes and budgets: BENCH_QUICK=1 for a run of about 30 s (small sizes, one run
// each), the default for one run under 5 minutes on 2 cores, BENCH_BIG=1 for the largest sizes
// whatever they cost. Each series stops growing where its next size is predicted to pass the cap.
const quick = process.env.BENCH_QUICK === '1';
const big = process.env.BENCH_BIG === '1';

export const MODE = quick ? 'quick' : big ? 'big' : 'default';

/**
 * The whole run's target (ms). On a busy machine every run takes longer; each section then
 * stops starting runs at its share of the target (`until`), so the run still ends near it.
 */
export const TOTAL_MS = quick ? 60_000 : big ? Infinity : 285_000;
const START = Date.now();

/** The time left (ms) until `share` of the run's target, counted from the bench's start. */
export function until(share) {
  return START + share * TOTAL_MS - Date.now();
}

const pick = (q, d, b) => (quick ? q : big ? b : d);

export const CONFIG = {
  /** Replay against the floor: log sizes (records) at 256 live mappings. */
  records: pick([1e3, 1e4, 5e4], [1e3, 1e4, 1e5, 2e5, 1e6], [1e3, 1e4, 1e5, 2e5, 1e6]),
  recordsLive: 256,
  /** Live mappings, each at max(liveRecords, 4 * live) records. */
  live: pick([1e2, 1e3], [1e2, 1e3, 1e4, 1e5], [1e2, 1e3, 1e4, 1e5]),
  liveRecords: pick(2e4, 5e4, 1e5),
  /** Pairs (floor, replay) per size: at least, at most, and no new pair once this is spent (ms); one pair for a log predicted past 20 s. */
  replayPairs: pick({ min: 1, max: 1, budgetMs: 0 }, { min: 3, max: 5, budgetMs: 8_000 }, { min: 5, max: 9, budgetMs: 30_000 }),
  /** No replay size whose predicted time passes this (ms). */
  replayCapMs: pick(8_000, 45_000, 900_000),
  fullContainer: !quick,
  /** Built-in scenarios: rounds in one process per scenario. */
  builtinRounds: pick({ min: 1, max: 1, budgetMs: 0 }, { min: 3, max: 7, budgetMs: 3_000 }, { min: 5, max: 9, budgetMs: 10_000 }),
  /** Scaled scenarios: [maps, munmaps] and page-request counts, in growing order. */
  mapSizes: pick([[1, 1], [2, 2], [2, 3]], [[1, 1], [2, 2], [2, 3], [3, 3], [3, 4], [4, 4], [4, 5], [5, 5]], [[1, 1], [2, 2], [2, 3], [3, 3], [3, 4], [4, 4], [4, 5], [5, 5], [5, 6]]),
  prqSizes: pick([1, 2], [1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 6]),
  /** No scaled run predicted to take longer than this (ms); a run is cut at 1.5 times it. */
  exploreCapMs: pick(8_000, 40_000, 1_200_000),
  /** Runs per scaled size when one takes under 3 s (one otherwise). */
  scaledReps: pick(1, 3, 5),
  /** The whole explorer section of scaled scenarios stops starting runs past this (ms). */
  scaledBudgetMs: pick(15_000, 110_000, Infinity),
  /** --workers 1 vs 2: pairs. */
  workerPairs: pick({ min: 1, max: 1, budgetMs: 0 }, { min: 3, max: 5, budgetMs: 40_000 }, { min: 5, max: 7, budgetMs: 300_000 }),
  /** Time to the first deadlock: pairs (check, pan). */
  deadlockPairs: pick({ min: 2, max: 2, budgetMs: 0 }, { min: 7, max: 9, budgetMs: 10_000 }, { min: 9, max: 15, budgetMs: 30_000 }),
};

/** The anchors (issue 11, measured on main before the work). */
export const ANCHORS = {
  panFirstDeadlockS: [0.09, 0.1],
  spinStatesPerS: [650_000, 780_000],
  spinBytesPerState: [56, 64],
};
