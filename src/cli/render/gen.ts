/** The summary `gen` prints: how much of the criterion the written logs cover, and the gaps with why. */
import type { Coverage } from '../../run/gen/index.js';

/** What the targets of each criterion are called. */
const NOUN = { transitions: 'transitions', errnos: 'ioctl checks', paths: 'path states' } as const;

export function renderGenSummary(c: Coverage, dir: string): string {
  const lines = [`gen --cover ${c.kind}: ${c.logs.length} of ${c.targets.length} ${NOUN[c.kind]} covered, ${c.logs.length} logs in ${dir}/`];
  if (c.gaps.length > 0) {
    lines.push(`not covered (${c.gaps.length}):`);
    for (const g of c.gaps) lines.push(`  ${g.target.title}`, `    why: ${g.why}`);
  }
  return `${lines.join('\n')}\n`;
}
