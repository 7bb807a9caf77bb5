/**
 * The data of `iommu-model report`: what a replay's StepRecords and report become in the page,
 * as one compact JSON document (columns of numbers and interned strings, not one object per
 * record, so that a 100k-record log opens in a second). Pure: records in, data out; the page
 * (page.ts, client.ts) folds it. docs/report.md describes what the page shows.
 */
import type { StepRecord, ReplayReport, Divergence } from '../../../run/replay.js';
import type { Violation } from '../../../checks/properties.js';
import type { Derived, Header, JsonValue, Stimulus } from '../../../vocab/records.js';
import { u64Text } from '../../../log/u64.js';
import { fieldsText, outcomeText } from '../text.js';
import { diffText } from '../diff.js';

/**
 * One change of a container's IOVA map or a process's BAR mmaps, as the page folds it:
 * `[record index, kind, owner, start, end (exclusive), label]`, flattened six to an event.
 * Kinds: `D+`/`D-` a vfio_dma (dma.mapped / dma.removed), `M+`/`M-` an IOMMU mapping of RAM
 * (iommu.mapped / iommu.unmapped), `B+` an IOMMU mapping of a BAR (P2P MMIO: iommu.mapped with a
 * `<device>/bar<n>` target; removed by `M-` too), `P+`/`P-` pinned pages (pages.pinned /
 * pages.unpinned), `R+` a reserved window (a gap between iommu.group_attached's iova_ranges, or
 * dma.msi_window), `X` the container's IOMMU released (iommu.released: its map is empty),
 * `V+`/`V-` a BAR vma of a process (vma.mapped / vma.unmapped with kind bar). The owner is
 * `container <id>` or `pid <pid>`; addresses are hex text (u64: the page compares them as BigInt).
 */
export type IovaEvent = [number, string, string, string, string, string];

export interface ReportData {
  readonly v: 1;
  readonly file: string;
  readonly scheme: string;
  readonly kernel: string;
  readonly description: string;
  readonly derivedTotal: number;
  readonly fingerprint: string;
  /** Interned strings: ops, lanes, outcomes, states and object names are indexes into it. */
  readonly strings: string[];
  /** The lanes of the timeline (indexes into strings), processes first, then tasks, devices, host. */
  readonly lanes: number[];
  readonly rec: {
    readonly seq: number[];
    readonly line: number[];
    /** Index into `lanes`. */
    readonly lane: number[];
    readonly op: number[];
    /** The record's fields (`k=v`, as replay --trace prints them). */
    readonly text: string[];
    /** What the record returned, or that it queued, or which step it ran (interned). */
    readonly out: number[];
    /** 1: a violation was reported at it; 2: a divergence; 3: both. */
    readonly flag: number[];
    /** Its derived records are der[dStart[i] .. dStart[i+1]). */
    readonly dStart: number[];
  };
  readonly der: {
    readonly op: number[];
    readonly id: number[];
    /** 0: follows from the stimulus itself. */
    readonly via: number[];
    readonly text: string[];
  };
  readonly iova: (number | string)[];
  /** Every state record: `[object, record index, from, to, event]` (strings), flattened five to one. */
  readonly life: number[];
  readonly violations: readonly Violation[];
  readonly divergences: ReadonlyArray<Divergence & { readonly text: string }>;
}

const num = (v: JsonValue | undefined): bigint | null => {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  const b = typeof v === 'string' ? u64Text(v) : null;
  return typeof b === 'bigint' ? b : null;
};
const hexOf = (b: bigint): string => `0x${b.toString(16)}`;

/** Collects a replay's records as they come (Replay's onStep), then the report (finish). */
export class ReportCollector {
  private readonly strings: string[] = [];
  private readonly index = new Map<string, number>();
  private readonly laneOf = new Map<string, number>();
  private readonly laneNames: string[] = [];
  private readonly rec = { seq: [] as number[], line: [] as number[], lane: [] as number[], op: [] as number[], text: [] as string[], out: [] as number[], flag: [] as number[], dStart: [0] as number[] };
  private readonly der = { op: [] as number[], id: [] as number[], via: [] as number[], text: [] as string[] };
  private readonly iova: (number | string)[] = [];
  private readonly life: number[] = [];
  /** The pid of each task's stimuli (a step record's process), for the BAR vmas it unmaps. */
  private readonly taskPid = new Map<string, number>();

  constructor(private readonly header: Header, private readonly file: string) {}

  private str(s: string): number {
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.index.set(s, i);
    }
    return i;
  }

  /** The lane of a record: its task, else its process, else its device, else the host. */
  private lane(s: Stimulus): number {
    const f = s as unknown as Record<string, unknown>;
    const name = s.task !== undefined ? `task ${s.task}` : typeof f['pid'] === 'number' ? `pid ${f['pid']}` : typeof f['device'] === 'string' ? `device ${f['device']}` : 'host';
    let i = this.laneOf.get(name);
    if (i === undefined) {
      i = this.laneNames.length;
      this.laneNames.push(name);
      this.laneOf.set(name, i);
    }
    return i;
  }

  readonly onStep = (r: StepRecord): void => {
    const s = r.stimulus;
    const at = this.rec.seq.length;
    const pid = (s as { pid?: unknown }).pid;
    if (s.task !== undefined && s.op !== 'step' && typeof pid === 'number') this.taskPid.set(s.task, pid);
    this.rec.seq.push(s.seq);
    this.rec.line.push(s.line);
    this.rec.lane.push(this.lane(s));
    this.rec.op.push(this.str(s.op === 'step' ? `step ${s.task}` : s.op));
    this.rec.text.push(s.op === 'step' ? (r.step ?? '') : fieldsText(s));
    this.rec.out.push(this.str(outcomeOf(r)));
    this.rec.flag.push(0);
    const ownerPid = typeof pid === 'number' ? pid : s.task !== undefined ? this.taskPid.get(s.task) : undefined;
    for (const d of r.derived) {
      this.der.op.push(this.str(d.op));
      this.der.id.push(d.id);
      this.der.via.push(d.via ?? 0);
      this.der.text.push(derivedFields(d));
      this.fold(at, d, ownerPid);
    }
    this.rec.dStart.push(this.der.op.length);
    if (s.op === 'host.iommu') this.hostResv(at, s);
  };

  /** The IOVA-map and lifecycle events of one derived record. */
  private fold(at: number, d: Derived, pid: number | undefined): void {
    const ev = (kind: string, owner: string, start: bigint, end: bigint, label: string): void => {
      this.iova.push(at, kind, owner, hexOf(start), hexOf(end), label);
    };
    const c = `container ${String(d['container'])}`;
    const iova = num(d['iova']);
    const size = num(d['size']);
    switch (d.op) {
      case 'state':
        this.life.push(this.str(String(d['object'])), at, this.str(String(d['from'])), this.str(String(d['to'])), this.str(String(d['event'])));
        return;
      case 'dma.mapped':
        if (iova !== null && size !== null) ev('D+', c, iova, iova + size, `vaddr ${String(d['vaddr'])}${d['pinned'] === false ? ', not pinned' : ''}`);
        return;
      case 'dma.removed':
        if (iova !== null && size !== null) ev('D-', c, iova, iova + size, '');
        return;
      case 'iommu.mapped': {
        const target = String(d['target']);
        if (iova !== null && size !== null) ev(target === 'ram' ? 'M+' : 'B+', c, iova, iova + size, `${target === 'ram' ? 'RAM' : target} at phys ${String(d['phys'])}`);
        return;
      }
      case 'iommu.unmapped':
        if (iova !== null && size !== null) ev('M-', c, iova, iova + size, '');
        return;
      case 'pages.pinned':
      case 'pages.unpinned': {
        const n = num(d['npages']);
        if (iova !== null && n !== null) ev(d.op === 'pages.pinned' ? 'P+' : 'P-', c, iova, iova + (n << 12n), d.op === 'pages.pinned' ? `${n} pages at phys ${String(d['phys'])}` : '');
        return;
      }
      case 'dma.msi_window':
        if (iova !== null && size !== null) ev('R+', c, iova, iova + size, 'MSI window (MAP_DMA MSI_RESERVED_IOVA)');
        return;
      case 'iommu.group_attached':
        this.gaps(at, c, d['iova_ranges']);
        return;
      case 'iommu.released':
        ev('X', c, 0n, 0n, '');
        return;
      case 'vma.mapped':
      case 'vma.unmapped': {
        if (d['kind'] !== 'bar') return;
        const start = num(d['start']);
        const end = num(d['end']);
        const owner = d.op === 'vma.mapped' ? d['pid'] : pid;
        if (start === null || end === null || typeof owner !== 'number') return;
        ev(d.op === 'vma.mapped' ? 'V+' : 'V-', `pid ${owner}`, start, end, d.op === 'vma.mapped' ? `${String(d['device'])} BAR${String(d['bar'])}` : '');
        return;
      }
      default:
    }
  }

  /**
   * iommu.group_attached's iova_ranges are the usable IOVA after the reserved regions were cut
   * out (vfio_iommu_type1.c: vfio_iommu_resv_exclude): each gap between two ranges is a window
   * the user cannot map (on x86 the MSI window 0xfee00000-0xfeefffff).
   */
  private gaps(at: number, owner: string, ranges: JsonValue | undefined): void {
    if (!Array.isArray(ranges)) return;
    const rs = ranges.map((r) => (Array.isArray(r) ? [num(r[0]), num(r[1])] : [null, null])).filter((r): r is [bigint, bigint] => r[0] !== null && r[1] !== null);
    rs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (let i = 1; i < rs.length; i += 1) {
      const start = rs[i - 1]![1] + 1n;
      const end = rs[i]![0];
      if (start < end) this.iova.push(at, 'R+', owner, hexOf(start), hexOf(end), 'not in iova_ranges (cut out by vfio_iommu_resv_exclude)');
    }
  }

  /** host.iommu's reserved regions, named by type, for every container (owner `host`). */
  private hostResv(at: number, s: Stimulus): void {
    const resv = (s as { resv?: readonly { start: bigint; end: bigint; type: string }[] }).resv ?? [];
    for (const r of resv) this.iova.push(at, 'R+', 'host', hexOf(r.start), hexOf(r.end + 1n), `${r.type} (host.iommu resv)`);
  }

  finish(report: ReplayReport): ReportData {
    const bySeq = new Map<number, number>();
    this.rec.seq.forEach((s, i) => bySeq.set(s, i));
    for (const v of report.violations) this.mark(bySeq.get(v.seq), 1);
    for (const d of report.divergences) this.mark(bySeq.get(d.seq), 2);
    const kind = (n: string): number => (n.startsWith('pid ') ? 0 : n.startsWith('task ') ? 1 : n.startsWith('device ') ? 2 : 3);
    const order = this.laneNames.map((_, i) => i).sort((a, b) => kind(this.laneNames[a]!) - kind(this.laneNames[b]!) || a - b);
    const place = new Map(order.map((old, i) => [old, i]));
    const lane = this.rec.lane.map((l) => place.get(l)!);
    return {
      v: 1,
      file: this.file,
      scheme: report.scheme,
      kernel: report.kernel,
      description: this.header.description ?? '',
      derivedTotal: report.derived,
      fingerprint: report.fingerprint,
      strings: this.strings,
      lanes: order.map((i) => this.str(this.laneNames[i]!)),
      rec: { ...this.rec, lane },
      der: this.der,
      iova: this.iova,
      life: this.life,
      violations: report.violations,
      // each divergence as `replay` words it: the fields that differ (`expected errno EINVAL, got errno EEXIST`)
      divergences: report.divergences.map((d) => ({ ...d, text: diffText(d.expected, d.actual) })),
    };
  }

  /** Marks the last record with that seq (a task's stimulus returns at its last step record). */
  private mark(i: number | undefined, bit: number): void {
    if (i !== undefined) this.rec.flag[i] = this.rec.flag[i]! | bit;
  }
}

/** What a record did, in words: its outcome, or that it was queued on its task. */
function outcomeOf(r: StepRecord): string {
  const s = r.stimulus;
  if (r.returned === undefined) return s.op === 'step' ? '' : s.task !== undefined ? `queued on task ${s.task}` : r.outcome === null ? '' : outcomeText(r.outcome);
  const text = outcomeText(r.outcome!);
  return r.returned === s ? text : `${r.returned.seq} ${r.returned.op} returned: ${text}`;
}

/** A derived record's own fields as `k=v` (op, cause, id and via are columns of their own). */
function derivedFields(d: Derived): string {
  return Object.entries(d)
    .filter(([k]) => k !== 'op' && k !== 'cause' && k !== 'id' && k !== 'via')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

/** The data as the page's JSON: `<` escaped, so that no `</script>` or `<!--` in a log ends the block. */
export function dataJson(data: ReportData): string {
  return JSON.stringify(data).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}
