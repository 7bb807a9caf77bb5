/** The runnable examples of docs/api.md: its ```ts blocks, in order (test/api, test/package). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function docExamples(): string[] {
  const doc = readFileSync(fileURLToPath(new URL('../../docs/api.md', import.meta.url)), 'utf8');
  return [...doc.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}
