// Types of bench/scenarios.mjs, for test/fixtures/many-tasks.ts.
export function mapVsMunmap(maps: number, unmaps: number, options?: { readonly buffers?: number; readonly description?: string }): string;
export function exitWithPageRequests(root: string, n: number): string;
