/**
 * Builds event logs (docs/log-format.md) as arrays of plain objects, turns them into JSONL, parses
 * and replays them, and returns the report, the final world and every step's outcome.
 */
import { parseLog } from '../../src/log/reader.js';
import { replayItems, type ReplayReport, type StepRecord } from '../../src/run/replay.js';
import type { Outcome } from '../../src/core/tx.js';
import type { World } from '../../src/core/world.js';
import { InputError } from '../../src/vocab/errors.js';

export type Rec = Record<string, unknown>;

export const PID = 42;
export const DEV = '0000:01:00.0';
export const GROUP = 26;
export const MDEV = 'mdev-0';
export const MDEV_GROUP = 100;
/** The fds the prefix hands out: container 3, group 4 (device 5 when opened). */
export const CFD = 3;
export const GFD = 4;
export const DFD = 5;
/** Where the prefix's anonymous memory starts. */
export const VA = 0x7f0000000000n;
export const MIB2 = 0x200000n;

export const hex = (n: bigint | number): string => `0x${BigInt(n).toString(16)}`;

export function jsonl(header: Rec, records: readonly Rec[]): string {
  return [header, ...records].map((r) => JSON.stringify(r)).join('\n');
}

export interface Run {
  readonly report: ReplayReport;
  readonly world: World;
  readonly steps: StepRecord[];
  /** The outcome of the last stimulus. */
  readonly last: Outcome;
}

/** Replays `records` under `scheme`; `kernel` is the header's release (absent: the latest). */
export function run(records: readonly Rec[], scheme = 'upstream', kernel?: string): Run {
  const { header, items } = parseLog(jsonl({ format: 'iommu-model/1', scheme, ...(kernel === undefined ? {} : { kernel }) }, records));
  const steps: StepRecord[] = [];
  const { report, world } = replayItems(header, items, '<test>', (r) => steps.push(r));
  const lastStep = steps[steps.length - 1];
  if (lastStep === undefined) throw new Error('empty log');
  if (lastStep.outcome === null) throw new Error('the last record returned no outcome');
  return { report, world, steps, last: lastStep.outcome };
}

export function ioctl(fd: number, cmd: string, arg?: unknown, extra: Rec = {}): Rec {
  return { op: 'ioctl', pid: PID, fd, cmd, ...(arg === undefined ? {} : { arg }), ...extra };
}

export function mapDma(vaddr: bigint, iova: bigint, size: bigint, flags: string[] = ['READ', 'WRITE'], extra: Rec = {}): Rec {
  return ioctl(CFD, 'VFIO_IOMMU_MAP_DMA', { flags, vaddr: hex(vaddr), iova: hex(iova), size: hex(size) }, extra);
}

export function unmapDma(iova: bigint, size: bigint, flags: string[] = [], extra: Rec = {}): Rec {
  return ioctl(CFD, 'VFIO_IOMMU_UNMAP_DMA', { flags, iova: hex(iova), size: hex(size) }, extra);
}

export const ok = (ret: number | string = 0): Rec => ({ expect: { ret } });
export const err = (errno: string): Rec => ({ expect: { errno } });

export interface PrefixOptions {
  /** VFIO_TYPE1_IOMMU (v1) instead of VFIO_TYPE1v2_IOMMU; null: no SET_IOMMU. */
  readonly iommu?: 'VFIO_TYPE1_IOMMU' | 'VFIO_TYPE1v2_IOMMU' | null;
  readonly rlimitMemlock?: bigint;
  /** Bytes of anonymous memory mmapped at VA; 0: none. */
  readonly mmapLength?: bigint;
  /** An mdev in its own emulated group instead of a PCI device. */
  readonly mdev?: boolean;
  /** Open the device (GET_DEVICE_FD) after SET_IOMMU. */
  readonly openDevice?: boolean;
  /** Records placed before the device declarations (host.iommu). */
  readonly host?: readonly Rec[];
}

/**
 * host.device (or host.mdev) + spawn + open container (fd 3) and group (fd 4) + SET_CONTAINER +
 * SET_IOMMU + mmap at VA, every record with the expectation it must meet.
 */
export function prefix(o: PrefixOptions = {}): Rec[] {
  const iommu = o.iommu === undefined ? 'VFIO_TYPE1v2_IOMMU' : o.iommu;
  const group = o.mdev === true ? MDEV_GROUP : GROUP;
  const recs: Rec[] = [...(o.host ?? [])];
  recs.push(o.mdev === true ? { op: 'host.mdev', device: MDEV, group } : { op: 'host.device', device: DEV, group });
  recs.push({ op: 'process.spawn', pid: PID, rlimit_memlock: hex(o.rlimitMemlock ?? 0x40000000n) });
  recs.push({ op: 'open', pid: PID, path: '/dev/vfio/vfio', ...ok(CFD) });
  recs.push({ op: 'open', pid: PID, path: `/dev/vfio/${group}`, ...ok(GFD) });
  recs.push(ioctl(GFD, 'VFIO_GROUP_SET_CONTAINER', { fd: CFD }, ok()));
  if (iommu !== null) recs.push(ioctl(CFD, 'VFIO_SET_IOMMU', iommu, ok()));
  if (o.openDevice === true) recs.push(ioctl(GFD, 'VFIO_GROUP_GET_DEVICE_FD', { name: o.mdev === true ? MDEV : DEV }, ok(DFD)));
  const len = o.mmapLength ?? 0x400000n;
  if (len > 0n) recs.push({ op: 'mmap', pid: PID, addr: hex(VA), length: hex(len), expect: { ret: hex(VA) } });
  return recs;
}

/**
 * Runs `records` and checks that only the last one's outcome matters: every expectation in
 * the log is met. Returns the run, whose `last` is the probe's outcome.
 */
export function probe(records: readonly Rec[], scheme = 'upstream', kernel?: string): Run {
  const r = run(records, scheme, kernel);
  if (r.report.divergences.length > 0) {
    throw new Error(`unexpected divergences: ${JSON.stringify(r.report.divergences, (_k, v: unknown) => (typeof v === 'bigint' ? hex(v) : v))}`);
  }
  return r;
}

/** The container the prefix opened (the only one). */
export function onlyContainer(w: World) {
  const cs = [...w.containers.values()];
  if (cs.length !== 1 || cs[0] === undefined) throw new Error(`expected one container, found ${cs.length}`);
  return cs[0];
}

/** The mm of the prefix's process. */
export function procMm(w: World) {
  const p = w.processes.get(PID);
  if (p === undefined) throw new Error('no process');
  const mm = w.mms.get(p.mm);
  if (mm === undefined) throw new Error('no mm');
  return mm;
}

/** The InputError `fn` throws (bad input: exit 2), or a test failure if it throws none. */
export function inputError(fn: () => unknown): InputError {
  try {
    fn();
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  throw new Error('expected an InputError, nothing was thrown');
}
