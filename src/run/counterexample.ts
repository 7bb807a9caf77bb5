/**
 * A counterexample as a log: the scenario's records (each with an explicit seq), then one step
 * record per step of the schedule. `replay` of it reproduces the violation at the same record.
 */
import type { JsonValue } from '../vocab/records.js';
import { stimulusJson } from './replay.js';
import type { Scheme } from '../schemes/scheme.js';
import { stepSeqBase, type Finding, type Scenario } from './explore.js';

export function counterexampleLines(sc: Scenario, scheme: Scheme, f: Finding): string[] {
  const header: Record<string, JsonValue> = {
    format: 'iommu-model/1',
    scheme: scheme.name,
    ...(sc.header.kernel === undefined ? {} : { kernel: sc.header.kernel }),
    description: `counterexample: ${f.property} at record ${f.seq}, ${f.schedule.length} step(s) of ${sc.file.split('/').pop()}`,
  };
  const lines = [JSON.stringify(header)];
  const records = [...sc.prologue, ...sc.taskRecords].sort((a, b) => a.seq - b.seq);
  for (const s of records) lines.push(JSON.stringify(stimulusJson(s, true)));
  const base = stepSeqBase(sc);
  f.schedule.forEach((task, i) => lines.push(JSON.stringify({ op: 'step', task, seq: base + i + 1 })));
  return lines;
}
