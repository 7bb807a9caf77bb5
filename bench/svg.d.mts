// Types of bench/svg.mjs, for test/bench/svg.test.ts.
export interface Axis {
  readonly label: string;
  readonly log?: boolean;
  readonly domain?: readonly [number, number];
}
export interface Series {
  readonly name: string;
  readonly points: ReadonlyArray<readonly [number, number]>;
}
export function escapeXml(s: string): string;
export function tickLabel(v: number): string;
export function scale(domain: readonly [number, number], range: readonly [number, number], log?: boolean): (x: number) => number;
export function domainOf(values: readonly number[], log: boolean): [number, number];
export function ticksOf(domain: readonly [number, number], log: boolean): number[];
export function plot(p: { title: string; x: Axis; y: Axis; series: readonly Series[]; width?: number; height?: number }): string;
