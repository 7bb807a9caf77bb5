// Types of bench/doc.mjs and bench/goals.mjs, for test/bench/doc.test.ts. A bench run's results
// are plain JSON (bench/run.mjs `measure`): typed loosely here.
export type BenchResults = Record<string, any>;
export function keptWhy(oldText: string): Map<string, string>;
export function plots(R: BenchResults): Record<string, string>;
export function performanceDoc(R: BenchResults, goals: readonly Goal[], docPath: string): string;
export interface Goal {
  readonly id: string;
  readonly title: string;
  readonly status: 'met' | 'missed' | 'not measured';
  readonly figure: string;
}
