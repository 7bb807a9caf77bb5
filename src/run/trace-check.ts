/**
 * The check of an imported trace (docs/importers.md, ftrace): replay the log the importer wrote
 * and, after each stimulus that stands for trace events, compare the model's IOMMU page table
 * (every container's type1 domain PTEs) with what the trace says. IOVA ranges only: the model
 * allocates its own physical addresses. Pure: the imported log in, findings out.
 *
 * The findings:
 * - `unexplained-map`: a traced map no stimulus explains: the synthesised MAP_DMA was refused by
 *   the model (vfio_dma_do_map's errno and the check that decided it), or left part of the range
 *   unmapped; and, found at import time, a map during no mapping ioctl of the traced task;
 * - `unmap-leaves-mapped`: after a traced unmap run, the trace (unmapped_size below size, over a
 *   range the trace had mapped) or the model (the synthesised UNMAP_DMA left PTEs) still maps
 *   part of the range;
 * - `fault-on-mapped`: an io_page_fault on an IOVA the model maps: the IOMMU did not see a
 *   mapping the page table has (a stale IOTLB entry, a missing flush after map);
 * - `fault-after-unmap`: an io_page_fault on an IOVA a traced unmap removed: the device used it
 *   after the unmap; `fault-unmapped`: on an IOVA the trace never mapped.
 */
import { atOrBelow } from '../core/iova-tree.js';
import type { World } from '../core/world.js';
import { parseLog } from '../log/reader.js';
import { hex } from '../log/u64.js';
import { logText, type ImportedLog, type Observation } from '../import/ftrace-log.js';
import { Replay, type ReplayReport } from './replay.js';
import type { Range } from '../import/ranges.js';

export type TraceFindingKind = 'unexplained-map' | 'unmap-leaves-mapped' | 'fault-on-mapped' | 'fault-after-unmap' | 'fault-unmapped';

export interface TraceFinding {
  readonly kind: TraceFindingKind;
  /** The trace line of the (first) event it is about. */
  readonly line: number;
  /** The seq of the log's stimulus standing for it (null: found at import time). */
  readonly seq: number | null;
  readonly message: string;
}

export interface TraceCheck {
  readonly findings: readonly TraceFinding[];
  readonly report: ReplayReport;
}

/** The model's mapped IOVA ranges within [start, end), over every container's domain. */
export function modelMapped(w: World, start: bigint, end: bigint): Range[] {
  const out: Range[] = [];
  for (const c of w.containers.values()) {
    const ptes = c.type1?.domain?.ptes;
    if (ptes === undefined) continue;
    const first = atOrBelow(ptes, start);
    const from = first !== undefined && first.iova + first.size > start ? first.iova : start;
    for (const [, p] of ptes.entries(from)) {
      if (p.iova >= end) break;
      const s = p.iova > start ? p.iova : start;
      const e = p.iova + p.size < end ? p.iova + p.size : end;
      if (s < e) out.push([s, e]);
    }
  }
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

const ranges = (rs: readonly Range[]): string => {
  const shown = rs.slice(0, 3).map(([s, e]) => `[${hex(s)}, ${hex(e)})`).join(', ');
  return rs.length > 3 ? `${shown} and ${rs.length - 3} more` : shown;
};

function covered(rs: readonly Range[], start: bigint, end: bigint): boolean {
  let at = start;
  for (const [s, e] of rs) {
    if (s > at) return false;
    if (e > at) at = e;
  }
  return at >= end;
}

/** Replays the imported log and compares it with the trace's observations. */
export function checkImportedTrace(log: ImportedLog, name: string): TraceCheck {
  const { header, items } = parseLog(logText(log), name);
  const bySeq = new Map<number, Observation>(log.observations.map((o) => [o.seq, o]));
  const findings: TraceFinding[] = log.findings.map((f) => ({ kind: f.kind, line: f.line, seq: null, message: `map [${hex(f.iova)}, ${hex(f.end)}): ${f.detail}` }));
  const r: Replay = new Replay(header, name, (step) => {
    const o = bySeq.get(step.stimulus.seq);
    if (o === undefined) return;
    const out = step.outcome;
    const seq = step.stimulus.seq;
    switch (o.kind) {
      case 'map': {
        const line = o.lines[0] ?? 0;
        const what = `map [${hex(o.iova)}, ${hex(o.end)})`;
        if (out?.errno !== undefined) findings.push({ kind: 'unexplained-map', line, seq, message: `${what}: no MAP_DMA explains it: the model refuses it with ${out.errno} (${out.decidedBy})` });
        else if (!covered(modelMapped(r.world, o.iova, o.end), o.iova, o.end)) findings.push({ kind: 'unexplained-map', line, seq, message: `${what}: after its MAP_DMA the model still does not map all of it` });
        break;
      }
      case 'unmap': {
        const line = o.lines[0] ?? 0;
        const what = `unmap [${hex(o.iova)}, ${hex(o.end)})`;
        if (o.leftInTrace.length > 0) findings.push({ kind: 'unmap-leaves-mapped', line, seq, message: `${what}: the trace still maps ${ranges(o.leftInTrace)} (unmapped_size ${hex(o.unmapped)} of ${hex(o.end - o.iova)})` });
        const left = modelMapped(r.world, o.iova, o.end);
        if (left.length > 0) findings.push({ kind: 'unmap-leaves-mapped', line, seq, message: `${what}: the model still maps ${ranges(left)}${out?.errno === undefined ? '' : ` (its UNMAP_DMA: ${out.errno}, ${out.decidedBy})`}` });
        break;
      }
      case 'fault': {
        const what = `io_page_fault at ${hex(o.iova)} (${o.device}, ${o.write ? 'write' : 'read'})`;
        if (out?.dma === 'ok') findings.push({ kind: 'fault-on-mapped', line: o.line, seq, message: `${what}: the model maps this IOVA: a stale IOTLB entry or a missing flush` });
        else if (o.unmappedAt !== null) findings.push({ kind: 'fault-after-unmap', line: o.line, seq, message: `${what}: used after the unmap at line ${o.unmappedAt}` });
        else findings.push({ kind: 'fault-unmapped', line: o.line, seq, message: `${what}: the trace never mapped this IOVA` });
        break;
      }
    }
  });
  for (const it of items) r.push(it);
  const report = r.finish();
  findings.sort((a, b) => a.line - b.line);
  return { findings, report };
}
