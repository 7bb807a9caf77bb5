/**
 * Model-based test (fast-check `fc.commands` / `fc.modelRun`) of the VFIO container, group and
 * device lifecycle with type1 MAP_DMA / UNMAP_DMA and device DMA, against a reference model that
 * keeps owners and counts only (fast-check's model-based runner, fc.commands):
 *
 * - the fd table: which fds are open and what each is (container / group g / device of group g);
 * - the live containers: their open fd (if any), the groups attached, whether an IOMMU driver is
 *   set (v1 or v2), and the mapped IOVA ranges [iova, iova+size) with the pages each pins;
 * - the process's expected locked_vm (pages) and its vmas (slot -> pages).
 *
 * No page tables, pins, domains or machines: the model never looks at the world to decide an
 * outcome. After each command the real world is compared with it (locked_vm, mapping counts, live
 * containers, open fds) and no property may be violated (the upstream scheme keeps every invariant
 * for these commands; no BAR is ever mapped for DMA).
 *
 * Each command's record carries the model's prediction as `expect`, and a failed assertion prints
 * the whole JSONL log so far: paste it into test/fixtures/ and `iommu-model replay` shows the
 * divergence. A command's toString is its record once it has run.
 */
import * as fc from 'fast-check';
import { cloneMethod } from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { Outcome } from '../../src/core/tx.js';
import { LogReader } from '../../src/log/reader.js';
import { Replay, type StepRecord } from '../../src/run/replay.js';

type Rec = Record<string, unknown>;
type G = 1 | 2;

const PID = 1;
const DEVICE: Readonly<Record<G, string>> = { 1: '0000:01:00.0', 2: '0000:02:00.0' };
const HEADER: Rec = { format: 'iommu-model/1' };
const SETUP: readonly Rec[] = [
  { op: 'host.device', device: DEVICE[1], group: 1, bars: [{ index: 0, phys: '0xe0000000', size: '0x100000' }] },
  { op: 'host.device', device: DEVICE[2], group: 2, bars: [{ index: 0, phys: '0xe1000000', size: '0x100000' }] },
  { op: 'process.spawn', pid: PID, rlimit_memlock: '0x1000000' },
];
/** RLIMIT_MEMLOCK of the process in pages (0x1000000 bytes). */
const LIMIT_PAGES = 0x1000;
const PAGE = 0x1000n;
/** vma slot k lives at VA + k * 16 MiB, so no two slots ever touch. */
const VA = 0x7f0000000000n;
const VMA_STRIDE = 0x1000000n;
const VMA_SLOTS = 4;
/** A "big" vma: 12 MiB, so that two big mappings exceed RLIMIT_MEMLOCK (ENOMEM). */
const BIG_PAGES = 0xc00;
/** IOVA slots: eight 8 KiB apart (mappings of 1-4 pages overlap often), two far apart for big ones. */
const IOVA_SLOTS: readonly bigint[] = [0x0n, 0x2000n, 0x4000n, 0x6000n, 0x8000n, 0xa000n, 0xc000n, 0xe000n, 0x1000000n, 0x2000000n];
/** UNMAP_DMA of a slot with no mapping starting there asks for three slots (several mappings, or a bisection). */
const UNMAP_WIDTH = 0x6000n;
/** Device DMAs are this long (inside one page). */
const DMA_LENGTH = 0x40n;

const hex = (n: bigint): string => `0x${n.toString(16)}`;
const vaOf = (slot: number): bigint => VA + BigInt(slot) * VMA_STRIDE;
const iovaOf = (slot: number): bigint => IOVA_SLOTS[slot] ?? 0n;

// ---------------------------------------------------------------------------------------------
// The reference model: owners and counts.

interface MapM {
  readonly iova: bigint;
  readonly size: bigint;
  readonly pages: number;
}

interface ContainerM {
  /** The container fd, or null once closed (the container lives on while groups hold it). */
  fd: number | null;
  readonly groups: Set<G>;
  driver: 'v1' | 'v2' | null;
  maps: MapM[];
}

type FdM = { readonly kind: 'container'; readonly c: ContainerM } | { readonly kind: 'group'; readonly g: G } | { readonly kind: 'device'; readonly g: G };

interface Model {
  readonly fds: Map<number, FdM>;
  /** Live containers (the world's `containers`). */
  readonly containers: Set<ContainerM>;
  /** Which container each group is attached to. */
  readonly attached: Map<G, ContainerM>;
  /** vma slot -> pages. */
  readonly vmas: Map<number, number>;
  /** Devices whose last close cleared bus mastering (vfio_pci_core_disable), not reopened since. */
  readonly noBusMaster: Set<G>;
  /** The process's locked_vm in pages: the pages of every live mapping (each map charges its own). */
  lockedVm: number;
}

function emptyModel(): Model {
  return { fds: new Map(), containers: new Set(), attached: new Map(), vmas: new Map(), noBusMaster: new Set(), lockedVm: 0 };
}

/** The one open container fd (OpenContainer keeps it at most one). */
function currentContainer(m: Readonly<Model>): ContainerM | undefined {
  for (const c of m.containers) if (c.fd !== null) return c;
  return undefined;
}

function fdsOf(m: Readonly<Model>, kind: 'group' | 'device', g: G): number[] {
  const out: number[] = [];
  for (const [fd, f] of m.fds) if (f.kind === kind && f.g === g) out.push(fd);
  return out.sort((a, b) => a - b);
}

/** alloc_fd: the lowest free fd (0-2 are the tty). */
function lowestFreeFd(m: Readonly<Model>): number {
  let fd = 3;
  while (m.fds.has(fd)) fd += 1;
  return fd;
}

/** The group file is alive while its fd is open or any of its device fds is (the device pins it). */
function groupFileAlive(m: Readonly<Model>, g: G): boolean {
  return fdsOf(m, 'group', g).length > 0 || fdsOf(m, 'device', g).length > 0;
}

function dropMaps(m: Model, c: ContainerM, gone: readonly MapM[]): bigint {
  let size = 0n;
  for (const x of gone) {
    m.lockedVm -= x.pages;
    size += x.size;
  }
  c.maps = c.maps.filter((x) => !gone.includes(x));
  return size;
}

/** The group file is released: detach; the last group out releases the driver and every mapping. */
function releaseGroupFile(m: Model, g: G): void {
  const c = m.attached.get(g);
  if (c === undefined) return;
  m.attached.delete(g);
  c.groups.delete(g);
  if (c.groups.size > 0) return;
  dropMaps(m, c, c.maps);
  c.driver = null;
  if (c.fd === null) m.containers.delete(c);
}

const overlaps = (a: MapM, iova: bigint, size: bigint): boolean => a.iova < iova + size && iova < a.iova + a.size;
const contains = (a: MapM, iova: bigint): boolean => a.iova <= iova && iova < a.iova + a.size;

// ---------------------------------------------------------------------------------------------
// The real system: a Replay fed one JSONL line at a time.

type Prediction = { readonly ret: bigint; readonly size?: bigint } | { readonly errno: string } | { readonly dma: 'ok' | 'fault' };

function expectJson(p: Prediction): Rec {
  if ('errno' in p) return { errno: p.errno };
  if ('dma' in p) return { dma: p.dma };
  const ret = p.ret <= 0xffffn ? Number(p.ret) : hex(p.ret);
  return p.size === undefined ? { ret } : { ret, out: { size: hex(p.size) } };
}

function meets(o: Outcome, p: Prediction): boolean {
  if ('errno' in p) return o.errno === p.errno;
  if ('dma' in p) return o.dma === p.dma;
  if (o.errno !== undefined || o.ret !== p.ret) return false;
  if (p.size === undefined) return true;
  const size = o.out?.['size'];
  return typeof size === 'string' && BigInt(size) === p.size;
}

class Real {
  private readonly reader = new LogReader('<model-commands>');
  private readonly steps: StepRecord[] = [];
  readonly replay: Replay;
  readonly lines: string[] = [];

  constructor() {
    const line = JSON.stringify(HEADER);
    const head = this.reader.push(line);
    if (head === null || head.kind !== 'header') throw new Error('no header');
    this.lines.push(line);
    this.replay = new Replay(head.header, '<model-commands>', (r) => this.steps.push(r));
    for (const rec of SETUP) this.send(rec);
  }

  /** Sends one record and returns its outcome (from Replay's onStep). */
  send(rec: Rec): Outcome {
    const line = JSON.stringify(rec);
    this.lines.push(line);
    const item = this.reader.push(line);
    if (item === null || item.kind !== 'stimulus') this.fail(`not a stimulus: ${line}`);
    const before = this.steps.length;
    try {
      this.replay.push(item);
    } catch (e) {
      this.fail(`the engine threw on ${line}: ${(e as Error).message}`);
    }
    const step = this.steps[before];
    if (step === undefined || step.outcome === null) this.fail(`no outcome for ${line}`);
    return step.outcome;
  }

  fail(message: string): never {
    throw new Error(`${message}\n--- log so far (expect = the reference model's prediction; paste as a fixture) ---\n${this.lines.join('\n')}\n---`);
  }

  /** What the world must agree on with the model after every command. */
  assertAgrees(m: Readonly<Model>): void {
    const w = this.replay.world;
    if (this.replay.violations.length > 0) this.fail(`violations: ${JSON.stringify(this.replay.violations)}`);
    if (this.replay.divergences.length > 0) this.fail(`divergences: ${JSON.stringify(this.replay.divergences)}`);
    const proc = w.processes.get(PID);
    const mm = proc === undefined ? undefined : w.mms.get(proc.mm);
    if (proc === undefined || mm === undefined) this.fail('process 1 or its mm is gone');
    if (mm.lockedVm !== m.lockedVm) this.fail(`locked_vm is ${mm.lockedVm} pages, the model expects ${m.lockedVm}`);
    const fds = [...proc.fds.keys()].filter((fd) => fd > 2).sort((a, b) => a - b);
    const modelFds = [...m.fds.keys()].sort((a, b) => a - b);
    if (fds.join() !== modelFds.join()) this.fail(`open fds ${fds.join()} , the model expects ${modelFds.join()}`);
    if (w.containers.size !== m.containers.size) this.fail(`${w.containers.size} live containers, the model expects ${m.containers.size}`);
    let worldMaps = 0;
    for (const c of w.containers.values()) worldMaps += c.type1?.dmas.size ?? 0;
    let modelMaps = 0;
    for (const c of m.containers) modelMaps += c.maps.length;
    if (worldMaps !== modelMaps) this.fail(`${worldMaps} vfio_dma in all containers, the model expects ${modelMaps}`);
    const cur = currentContainer(m);
    if (cur !== undefined && cur.fd !== null) {
      const fileId = proc.fds.get(cur.fd);
      const file = fileId === undefined ? undefined : w.files.get(fileId);
      const c = file?.container === undefined ? undefined : w.containers.get(file.container);
      if (c === undefined) this.fail(`fd ${cur.fd} is not a live container`);
      if ((c.type1 !== null) !== (cur.driver !== null)) this.fail(`container ${c.id}: type1 ${c.type1 === null ? 'unset' : 'set'}, the model expects ${cur.driver ?? 'none'}`);
      if ((c.type1?.v2 ?? null) !== (cur.driver === null ? null : cur.driver === 'v2')) this.fail(`container ${c.id}: type1 v2 flag differs from the model (${cur.driver ?? 'none'})`);
      const n = c.type1?.dmas.size ?? 0;
      if (n !== cur.maps.length) this.fail(`container ${c.id} has ${n} vfio_dma, the model expects ${cur.maps.length}`);
      if (c.groups.length !== cur.groups.size) this.fail(`container ${c.id} has groups [${c.groups.join()}], the model expects [${[...cur.groups].join()}]`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Commands. Each builds its record and prediction from the model alone, sends it, compares the
// outcome, then updates the model on the predicted outcome.

abstract class Cmd implements fc.Command<Model, Real> {
  /** The record as last sent (with the prediction as `expect`). */
  private line: string | null = null;

  abstract check(m: Readonly<Model>): boolean;
  /** A name for the command before it has run. */
  protected abstract label(): string;
  protected abstract stimulus(m: Readonly<Model>): Rec;
  protected abstract predict(m: Readonly<Model>): Prediction;
  /** Updates the model; called only once the outcome met the prediction. */
  protected abstract apply(m: Model, p: Prediction): void;

  run(m: Model, r: Real): void {
    const p = this.predict(m);
    const rec = { ...this.stimulus(m), expect: expectJson(p) };
    this.line = JSON.stringify(rec);
    const out = r.send(rec);
    if (!meets(out, p)) {
      r.fail(`${this.label()}: the model predicts ${JSON.stringify(expectJson(p))}, the engine gave ${JSON.stringify({ ...out, ret: out.ret === undefined ? undefined : hex(out.ret) })}`);
    }
    this.apply(m, p);
    r.assertAgrees(m);
  }

  toString(): string {
    return this.line ?? this.label();
  }

  /** Fresh per run, so a counterexample's toString shows the records of its own run. */
  [cloneMethod](): Cmd {
    const copy = Object.create(Object.getPrototypeOf(this) as object) as Cmd;
    Object.assign(copy, this);
    copy.line = null;
    return copy;
  }
}

const ok = (ret: bigint | number = 0n): Prediction => ({ ret: BigInt(ret) });
const err = (errno: string): Prediction => ({ errno });
const succeeded = (p: Prediction): boolean => 'ret' in p;

class OpenContainer extends Cmd {
  check(m: Readonly<Model>): boolean {
    return currentContainer(m) === undefined;
  }
  protected label(): string {
    return 'OpenContainer';
  }
  protected stimulus(): Rec {
    return { op: 'open', pid: PID, path: '/dev/vfio/vfio' };
  }
  protected predict(m: Readonly<Model>): Prediction {
    return ok(lowestFreeFd(m));
  }
  protected apply(m: Model): void {
    const fd = lowestFreeFd(m);
    const c: ContainerM = { fd, groups: new Set(), driver: null, maps: [] };
    m.containers.add(c);
    m.fds.set(fd, { kind: 'container', c });
  }
}

class OpenGroup extends Cmd {
  constructor(readonly g: G) {
    super();
  }
  check(): boolean {
    return true;
  }
  protected label(): string {
    return `OpenGroup(${this.g})`;
  }
  protected stimulus(): Rec {
    return { op: 'open', pid: PID, path: `/dev/vfio/${this.g}` };
  }
  protected predict(m: Readonly<Model>): Prediction {
    // One group file at a time; a device fd keeps the closed group's file open.
    return groupFileAlive(m, this.g) ? err('EBUSY') : ok(lowestFreeFd(m));
  }
  protected apply(m: Model, p: Prediction): void {
    if (succeeded(p)) m.fds.set(lowestFreeFd(m), { kind: 'group', g: this.g });
  }
}

class SetContainer extends Cmd {
  constructor(readonly g: G) {
    super();
  }
  check(m: Readonly<Model>): boolean {
    return fdsOf(m, 'group', this.g).length > 0 && currentContainer(m) !== undefined;
  }
  protected label(): string {
    return `SetContainer(${this.g})`;
  }
  protected stimulus(m: Readonly<Model>): Rec {
    return { op: 'ioctl', pid: PID, fd: fdsOf(m, 'group', this.g)[0], cmd: 'VFIO_GROUP_SET_CONTAINER', arg: { fd: currentContainer(m)?.fd } };
  }
  protected predict(m: Readonly<Model>): Prediction {
    return m.attached.has(this.g) ? err('EINVAL') : ok();
  }
  protected apply(m: Model, p: Prediction): void {
    const c = currentContainer(m);
    if (!succeeded(p) || c === undefined) return;
    c.groups.add(this.g);
    m.attached.set(this.g, c);
  }
}

class SetIommu extends Cmd {
  constructor(readonly v2: boolean) {
    super();
  }
  check(m: Readonly<Model>): boolean {
    return currentContainer(m) !== undefined;
  }
  protected label(): string {
    return `SetIommu(${this.v2 ? 'v2' : 'v1'})`;
  }
  protected stimulus(m: Readonly<Model>): Rec {
    return { op: 'ioctl', pid: PID, fd: currentContainer(m)?.fd, cmd: 'VFIO_SET_IOMMU', arg: this.v2 ? 'VFIO_TYPE1v2_IOMMU' : 'VFIO_TYPE1_IOMMU' };
  }
  protected predict(m: Readonly<Model>): Prediction {
    const c = currentContainer(m);
    // A container becomes privileged only by adding a group; there is no second SET_IOMMU.
    return c === undefined || c.groups.size === 0 || c.driver !== null ? err('EINVAL') : ok();
  }
  protected apply(m: Model, p: Prediction): void {
    const c = currentContainer(m);
    if (succeeded(p) && c !== undefined) c.driver = this.v2 ? 'v2' : 'v1';
  }
}

class GetDeviceFd extends Cmd {
  constructor(readonly g: G) {
    super();
  }
  check(m: Readonly<Model>): boolean {
    return fdsOf(m, 'group', this.g).length > 0;
  }
  protected label(): string {
    return `GetDeviceFd(${this.g})`;
  }
  protected stimulus(m: Readonly<Model>): Rec {
    return { op: 'ioctl', pid: PID, fd: fdsOf(m, 'group', this.g)[0], cmd: 'VFIO_GROUP_GET_DEVICE_FD', arg: { name: DEVICE[this.g] } };
  }
  protected predict(m: Readonly<Model>): Prediction {
    // No container, or a container without an IOMMU driver: EINVAL either way. (An open device
    // implies both, so the "first open only" driver check never matters here.)
    const c = m.attached.get(this.g);
    return c === undefined || c.driver === null ? err('EINVAL') : ok(lowestFreeFd(m));
  }
  protected apply(m: Model, p: Prediction): void {
    if (!succeeded(p)) return;
    m.fds.set(lowestFreeFd(m), { kind: 'device', g: this.g });
    m.noBusMaster.delete(this.g);
  }
}

class Mmap extends Cmd {
  constructor(
    readonly slot: number,
    readonly pages: number,
  ) {
    super();
  }
  check(): boolean {
    return true;
  }
  protected label(): string {
    return `Mmap(${this.slot}, ${this.pages})`;
  }
  protected stimulus(): Rec {
    return { op: 'mmap', pid: PID, addr: hex(vaOf(this.slot)), length: hex(BigInt(this.pages) * PAGE) };
  }
  protected predict(m: Readonly<Model>): Prediction {
    // The model's mmap with an address is MAP_FIXED_NOREPLACE.
    return m.vmas.has(this.slot) ? err('EEXIST') : ok(vaOf(this.slot));
  }
  protected apply(m: Model, p: Prediction): void {
    if (succeeded(p)) m.vmas.set(this.slot, this.pages);
  }
}

class Munmap extends Cmd {
  constructor(readonly slot: number) {
    super();
  }
  check(): boolean {
    return true;
  }
  protected label(): string {
    return `Munmap(${this.slot})`;
  }
  protected stimulus(m: Readonly<Model>): Rec {
    return { op: 'munmap', pid: PID, addr: hex(vaOf(this.slot)), length: hex(BigInt(m.vmas.get(this.slot) ?? 1) * PAGE) };
  }
  protected predict(): Prediction {
    return ok();
  }
  protected apply(m: Model): void {
    // Pages pinned for DMA stay pinned and charged (FOLL_LONGTERM): only the vma goes.
    m.vmas.delete(this.slot);
  }
}

class MapDma extends Cmd {
  constructor(
    readonly slot: number,
    readonly iovaSlot: number,
  ) {
    super();
  }
  check(m: Readonly<Model>): boolean {
    return currentContainer(m) !== undefined;
  }
  protected label(): string {
    return `MapDma(${this.slot}, ${this.iovaSlot})`;
  }
  private pages(m: Readonly<Model>): number {
    return m.vmas.get(this.slot) ?? 1;
  }
  protected stimulus(m: Readonly<Model>): Rec {
    const size = BigInt(this.pages(m)) * PAGE;
    return { op: 'ioctl', pid: PID, fd: currentContainer(m)?.fd, cmd: 'VFIO_IOMMU_MAP_DMA', arg: { flags: ['READ', 'WRITE'], vaddr: hex(vaOf(this.slot)), iova: hex(iovaOf(this.iovaSlot)), size: hex(size) } };
  }
  protected predict(m: Readonly<Model>): Prediction {
    // One owner per stage, in the order a request meets them: the container (driver set?), its
    // IOVA tree (overlap?), the address space (vma?), the process's RLIMIT_MEMLOCK.
    const c = currentContainer(m);
    const pages = this.pages(m);
    if (c === undefined || c.driver === null) return err('EINVAL');
    if (c.maps.some((x) => overlaps(x, iovaOf(this.iovaSlot), BigInt(pages) * PAGE))) return err('EEXIST');
    if (!m.vmas.has(this.slot)) return err('EFAULT');
    if (m.lockedVm + pages > LIMIT_PAGES) return err('ENOMEM');
    return ok();
  }
  protected apply(m: Model, p: Prediction): void {
    const c = currentContainer(m);
    if (!succeeded(p) || c === undefined) return;
    const pages = this.pages(m);
    c.maps.push({ iova: iovaOf(this.iovaSlot), size: BigInt(pages) * PAGE, pages });
    m.lockedVm += pages;
  }
}

class UnmapDma extends Cmd {
  constructor(readonly iovaSlot: number) {
    super();
  }
  check(m: Readonly<Model>): boolean {
    return currentContainer(m) !== undefined;
  }
  protected label(): string {
    return `UnmapDma(${this.iovaSlot})`;
  }
  /** The whole mapping that starts at the slot, or UNMAP_WIDTH when none does. */
  private range(m: Readonly<Model>): { iova: bigint; size: bigint } {
    const iova = iovaOf(this.iovaSlot);
    const hit = currentContainer(m)?.maps.find((x) => x.iova === iova);
    return { iova, size: hit?.size ?? UNMAP_WIDTH };
  }
  /** The mappings the request removes, or 'bisect' (v2 refuses to split a mapping). */
  private removed(m: Readonly<Model>): MapM[] | 'bisect' {
    const c = currentContainer(m);
    if (c === undefined) return [];
    const { iova, size } = this.range(m);
    const end = iova + size;
    if (c.driver === 'v2') {
      const bisects = c.maps.some((x) => (contains(x, iova) && x.iova !== iova) || (contains(x, end - 1n) && x.iova + x.size !== end));
      return bisects ? 'bisect' : c.maps.filter((x) => iova <= x.iova && x.iova + x.size <= end);
    }
    // v1: a request that starts inside a mapping succeeds and unmaps nothing; otherwise every
    // mapping whose first IOVA is in the range goes, whole.
    if (c.maps.some((x) => contains(x, iova) && x.iova !== iova)) return [];
    return c.maps.filter((x) => iova <= x.iova && x.iova < end);
  }
  protected stimulus(m: Readonly<Model>): Rec {
    const { iova, size } = this.range(m);
    return { op: 'ioctl', pid: PID, fd: currentContainer(m)?.fd, cmd: 'VFIO_IOMMU_UNMAP_DMA', arg: { flags: [], iova: hex(iova), size: hex(size) } };
  }
  protected predict(m: Readonly<Model>): Prediction {
    const c = currentContainer(m);
    if (c === undefined || c.driver === null) return err('EINVAL');
    const gone = this.removed(m);
    if (gone === 'bisect') return err('EINVAL');
    return { ret: 0n, size: gone.reduce((n, x) => n + x.size, 0n) };
  }
  protected apply(m: Model, p: Prediction): void {
    const c = currentContainer(m);
    const gone = this.removed(m);
    if (succeeded(p) && c !== undefined && gone !== 'bisect') dropMaps(m, c, gone);
  }
}

class UnmapAll extends Cmd {
  check(m: Readonly<Model>): boolean {
    return currentContainer(m) !== undefined;
  }
  protected label(): string {
    return 'UnmapAll';
  }
  protected stimulus(m: Readonly<Model>): Rec {
    return { op: 'ioctl', pid: PID, fd: currentContainer(m)?.fd, cmd: 'VFIO_IOMMU_UNMAP_DMA', arg: { flags: ['ALL'], iova: '0x0', size: '0x0' } };
  }
  protected predict(m: Readonly<Model>): Prediction {
    const c = currentContainer(m);
    if (c === undefined || c.driver === null) return err('EINVAL');
    return { ret: 0n, size: c.maps.reduce((n, x) => n + x.size, 0n) };
  }
  protected apply(m: Model, p: Prediction): void {
    const c = currentContainer(m);
    if (succeeded(p) && c !== undefined) dropMaps(m, c, c.maps);
  }
}

class DeviceDma extends Cmd {
  constructor(
    readonly g: G,
    readonly iovaSlot: number,
    readonly page: number,
    readonly write: boolean,
  ) {
    super();
  }
  check(): boolean {
    return true;
  }
  protected label(): string {
    return `DeviceDma(${this.g}, ${this.iovaSlot}+${this.page}p, ${this.write ? 'write' : 'read'})`;
  }
  private iova(): bigint {
    return iovaOf(this.iovaSlot) + BigInt(this.page) * PAGE;
  }
  protected stimulus(): Rec {
    return { op: 'device.dma', device: DEVICE[this.g], iova: hex(this.iova()), length: hex(DMA_LENGTH), write: this.write };
  }
  protected predict(m: Readonly<Model>): Prediction {
    // Translated iff the device's group is attached to a container whose mappings cover the
    // IOVA (every mapping is READ|WRITE; a container with mappings has its driver, so a domain),
    // and the device is a bus master (not closed since its last open).
    const c = m.attached.get(this.g);
    if (m.noBusMaster.has(this.g)) return { dma: 'fault' };
    return { dma: c !== undefined && c.maps.some((x) => contains(x, this.iova())) ? 'ok' : 'fault' };
  }
  protected apply(): void {}
}

class CloseDevice extends Cmd {
  constructor(readonly g: G) {
    super();
  }
  check(m: Readonly<Model>): boolean {
    return fdsOf(m, 'device', this.g).length > 0;
  }
  protected label(): string {
    return `CloseDevice(${this.g})`;
  }
  protected stimulus(m: Readonly<Model>): Rec {
    return { op: 'close', pid: PID, fd: fdsOf(m, 'device', this.g)[0] };
  }
  protected predict(): Prediction {
    return ok();
  }
  protected apply(m: Model): void {
    const fd = fdsOf(m, 'device', this.g)[0];
    if (fd !== undefined) m.fds.delete(fd);
    // The last close clears bus mastering (vfio_pci_core_disable: pci_clear_master).
    if (fdsOf(m, 'device', this.g).length === 0) m.noBusMaster.add(this.g);
    // The last device fd drops the device's reference on the group file.
    if (!groupFileAlive(m, this.g)) releaseGroupFile(m, this.g);
  }
}

class CloseGroup extends Cmd {
  constructor(readonly g: G) {
    super();
  }
  check(m: Readonly<Model>): boolean {
    return fdsOf(m, 'group', this.g).length > 0;
  }
  protected label(): string {
    return `CloseGroup(${this.g})`;
  }
  protected stimulus(m: Readonly<Model>): Rec {
    return { op: 'close', pid: PID, fd: fdsOf(m, 'group', this.g)[0] };
  }
  protected predict(): Prediction {
    return ok();
  }
  protected apply(m: Model): void {
    const fd = fdsOf(m, 'group', this.g)[0];
    if (fd !== undefined) m.fds.delete(fd);
    // An open device fd pins the group file: no release, no detach, until it closes.
    if (!groupFileAlive(m, this.g)) releaseGroupFile(m, this.g);
  }
}

class CloseContainer extends Cmd {
  check(m: Readonly<Model>): boolean {
    return currentContainer(m) !== undefined;
  }
  protected label(): string {
    return 'CloseContainer';
  }
  protected stimulus(m: Readonly<Model>): Rec {
    return { op: 'close', pid: PID, fd: currentContainer(m)?.fd };
  }
  protected predict(): Prediction {
    return ok();
  }
  protected apply(m: Model): void {
    const c = currentContainer(m);
    if (c === undefined || c.fd === null) return;
    m.fds.delete(c.fd);
    c.fd = null;
    // Attached groups hold the container (and its mappings); without them it is freed.
    if (c.groups.size === 0) m.containers.delete(c);
  }
}

// ---------------------------------------------------------------------------------------------

const group = fc.constantFrom<G>(1, 2);
const vmaSlot = fc.integer({ min: 0, max: VMA_SLOTS - 1 });
const iovaSlot = fc.integer({ min: 0, max: IOVA_SLOTS.length - 1 });
const vmaPages = fc.oneof({ arbitrary: fc.integer({ min: 1, max: 4 }), weight: 5 }, { arbitrary: fc.constant(BIG_PAGES), weight: 1 });

const dmaProbe = fc.tuple(group, iovaSlot, fc.integer({ min: 0, max: 1 }), fc.boolean()).map(([g, i, p, w]) => new DeviceDma(g, i, p, w));
const weighted = (weight: number, arbitrary: fc.Arbitrary<Cmd>): fc.WeightedArbitrary<Cmd> => ({ weight, arbitrary });

/**
 * One weighted choice: set-up and MAP_DMA are frequent so that most runs get a driver and
 * mappings; closes are rare so that what they tear down has usually been built.
 */
const command: fc.Arbitrary<Cmd> = fc.oneof(
  weighted(6, fc.constant(new OpenContainer())),
  weighted(8, group.map((g) => new OpenGroup(g))),
  weighted(8, group.map((g) => new SetContainer(g))),
  weighted(6, fc.boolean().map((v2) => new SetIommu(v2))),
  weighted(4, group.map((g) => new GetDeviceFd(g))),
  weighted(6, fc.tuple(vmaSlot, vmaPages).map(([s, n]) => new Mmap(s, n))),
  weighted(20, fc.tuple(vmaSlot, iovaSlot).map(([s, i]) => new MapDma(s, i))),
  weighted(6, iovaSlot.map((i) => new UnmapDma(i))),
  weighted(1, fc.constant(new UnmapAll())),
  weighted(1, vmaSlot.map((s) => new Munmap(s))),
  weighted(12, dmaProbe),
  weighted(1, group.map((g) => new CloseDevice(g))),
  weighted(1, group.map((g) => new CloseGroup(g))),
  weighted(1, fc.constant(new CloseContainer())),
);

/**
 * Scripted starts (each runs through the same commands and assertions): without one, the four
 * commands a driver needs rarely come in order, and most MAP_DMA would only test EINVAL.
 */
const PREFIXES = {
  fresh: (): Cmd[] => [],
  'group 1, v2': (): Cmd[] => [new OpenContainer(), new OpenGroup(1), new SetContainer(1), new SetIommu(true), new Mmap(0, 2), new Mmap(1, 1)],
  'groups 1 and 2, v2': (): Cmd[] => [new OpenContainer(), new OpenGroup(1), new OpenGroup(2), new SetContainer(1), new SetContainer(2), new SetIommu(true), new Mmap(0, 4), new Mmap(3, BIG_PAGES)],
  'groups 1 and 2, v1': (): Cmd[] => [new OpenContainer(), new OpenGroup(1), new OpenGroup(2), new SetContainer(1), new SetContainer(2), new SetIommu(false), new Mmap(0, 1), new Mmap(1, 3)],
} as const;
type PrefixName = keyof typeof PREFIXES;

/** The initial state of a run: the set-up records replayed, then the scripted start. */
function start(prefix: PrefixName): { model: Model; real: Real } {
  const model = emptyModel();
  const real = new Real();
  for (const c of PREFIXES[prefix]()) if (c.check(model)) c.run(model, real);
  return { model, real };
}

describe('the container/group/device lifecycle against an owners-and-counts model', () => {
  test('every outcome, locked_vm and mapping count matches the model, and no property is violated', () => {
    const prefixName = fc.constantFrom<PrefixName>('fresh', 'group 1, v2', 'groups 1 and 2, v2', 'groups 1 and 2, v1');
    fc.assert(
      fc.property(prefixName, fc.commands([command], { maxCommands: 80, size: 'max' }), (prefix, cmds) => {
        fc.modelRun(() => start(prefix), cmds);
      }),
      { numRuns: Number(process.env['IOMMU_MODEL_FUZZ_RUNS'] ?? 100) },
    );
  });

  test('a known history replays with the predicted outcomes (the model and the runner agree)', () => {
    // A fixed sequence through the interesting paths: map, overlap, device pins the group file,
    // last group out unmaps everything.
    const cmds: Cmd[] = [
      new OpenContainer(),
      new OpenGroup(1),
      new MapDma(0, 0),
      new SetContainer(1),
      new SetIommu(true),
      new Mmap(0, 2),
      new MapDma(0, 0),
      new MapDma(0, 1),
      new MapDma(1, 4),
      new GetDeviceFd(1),
      new DeviceDma(1, 0, 1, true),
      new CloseGroup(1),
      new OpenGroup(1),
      new DeviceDma(1, 0, 0, false),
      new CloseDevice(1),
      new DeviceDma(1, 0, 0, false),
    ];
    const model = emptyModel();
    const real = new Real();
    for (const c of cmds) if (c.check(model)) c.run(model, real);
    expect(model.lockedVm).toBe(0);
    expect(real.replay.finish().violations).toEqual([]);
  });
});
