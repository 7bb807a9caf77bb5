/**
 * The text of `check --shard k/n`: where the search was split, what this shard explored and
 * found. A shard's findings are real, but a property it did not find may be violated in another
 * shard, and LockOrder spans them all: the verdicts are merge's.
 */
import type { ShardReport } from '../../run/shard.js';

export function renderShard(scenario: string, r: ShardReport, seconds: number): string {
  const where =
    r.split === null
      ? `the search ended within the prefix (${r.prefix.distinct} distinct states): every shard holds all of it`
      : `split at depth ${r.split.depth}: ${r.split.roots} of its ${r.split.layer} nodes; the prefix ${r.prefix.generated} states, ${r.prefix.distinct} distinct`;
  const lines = [
    `${scenario} under ${r.scheme}: shard ${r.k}/${r.n}, tasks ${r.tasks.join(', ') || '(none)'}`,
    where,
    `this shard: ${r.own.generated} states generated, ${r.own.distinct} distinct, depth ${r.own.depth}, ${r.own.terminal} terminal, ${seconds.toFixed(2)} s, ${r.exhausted ? 'exhausted' : `not exhausted (${r.cutOff ?? '--max-states'})`}`,
    ...r.findings.map((f) => `  found ${f.property} (${f.schedule.length} steps, at record ${f.seq})`),
    `${r.edges.length} lock edges recorded; the verdicts are merge's: iommu-model merge <every shard's --json report>`,
  ];
  return `${lines.join('\n')}\n`;
}
