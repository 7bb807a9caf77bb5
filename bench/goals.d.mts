// Types of bench/goals.mjs, for test/bench/doc.test.ts.
import type { BenchResults, Goal } from './doc.mjs';
export function judgeGoals(R: BenchResults): Goal[];
