/**
 * The set-up a generated log needs, written on demand: each helper writes the records it
 * needs (the device, the process, the container, ...) the first time it is called and remembers
 * what they returned (the fds), so a recipe names only what it is about and its log stays
 * minimal: a log about a container holds a process and an open, nothing else.
 */
import { hex } from '../../log/u64.js';
import type { Header } from '../../vocab/records.js';
import type { ReleaseName } from '../../vocab/releases.js';
import { ModelError } from '../../vocab/errors.js';
import { LogBuilder, type Applied, type GenRecord } from './builder.js';

/** What kind of host and process a log runs on. */
export interface RigOptions {
  /** The header's scheme (default upstream); `noiommu` implies the noiommu scheme. */
  readonly scheme?: string;
  readonly kernel?: ReleaseName;
  /** vfio noiommu mode: the process has CAP_SYS_RAWIO, the group node is noiommu-<n>, SET_IOMMU is VFIO_NOIOMMU_IOMMU. */
  readonly noiommu?: boolean;
  /** The device can do SVA (20 PASID bits, PRI). */
  readonly sva?: boolean;
  /** The group's device is an mdev (an emulated group: type1 has no IOMMU domain for it). */
  readonly mdev?: boolean;
  /** VFIO_TYPE1_IOMMU instead of VFIO_TYPE1v2_IOMMU. */
  readonly v1?: boolean;
}

export const PID = 100;
export const DEVICE = '0000:01:00.0';
export const MDEV = 'mdev-0';
export const GROUP = 26;
export const BAR_PHYS = 0xfd000000n;
export const BAR_SIZE = 0x1000000n;
/** Where the anonymous memory and the BAR mapping go (fixed: MAP_FIXED_NOREPLACE). */
export const ANON = 0x7f0000000000n;
export const ANON_SIZE = 0x200000n;
export const BAR_VA = 0x7f1000000000n;
export const BAR_MAP_SIZE = 0x2000n;
/** The mapping `map()` makes: [IOVA, IOVA + ANON_SIZE) onto the anonymous memory. */
export const IOVA = 0x100000n;

export class Rig {
  readonly log: LogBuilder;
  private spawned = false;
  private declared = false;
  private container?: number;
  private group?: number;
  private attached = false;
  private iommuSet = false;
  private device?: number;
  private anonAt?: bigint;
  private bar?: bigint;
  private exited = false;

  constructor(readonly options: RigOptions = {}) {
    const scheme = options.scheme ?? (options.noiommu === true ? 'noiommu' : 'upstream');
    const header: Header = { format: 'iommu-model/1', scheme, ...(options.kernel === undefined ? {} : { kernel: options.kernel }) };
    this.log = new LogBuilder(header);
  }

  push(record: GenRecord): Applied {
    return this.log.push(record);
  }

  /** The record's return value as a number (an fd), or an error naming the record. */
  private fdOf(a: Applied): number {
    const ret = a.outcome?.ret;
    if (ret === undefined) throw new ModelError(`the generator's set-up failed: ${JSON.stringify(a.record)} gave ${a.outcome?.errno ?? 'no outcome'}`);
    return Number(ret);
  }

  get deviceName(): string {
    return this.options.mdev === true ? MDEV : DEVICE;
  }

  /** The group's node: /dev/vfio/<group>, or noiommu-<group> in noiommu mode. */
  get groupPath(): string {
    return this.options.noiommu === true ? `/dev/vfio/noiommu-${GROUP}` : `/dev/vfio/${GROUP}`;
  }

  spawn(extra: GenRecord = {}): void {
    if (this.spawned) return;
    this.spawned = true;
    this.push({ op: 'process.spawn', pid: PID, ...(this.options.noiommu === true ? { cap_sys_rawio: true } : {}), ...extra });
  }

  /** The host's device (a PCI function with one 16 MiB BAR, or an mdev). */
  declare(extra: GenRecord = {}): void {
    if (this.declared) return;
    this.declared = true;
    if (this.options.mdev === true) {
      this.push({ op: 'host.mdev', device: MDEV, group: GROUP });
      return;
    }
    const sva = this.options.sva === true ? { pasid_bits: 20, pri: true } : {};
    this.push({ op: 'host.device', device: DEVICE, group: GROUP, bars: [{ index: 0, phys: hex(BAR_PHYS), size: hex(BAR_SIZE) }], ...sva, ...extra });
  }

  ioctl(fd: number, cmd: string, arg?: JsonArg, extra: GenRecord = {}): Applied {
    return this.push({ op: 'ioctl', pid: PID, fd, cmd, ...(arg === undefined ? {} : { arg }), ...extra });
  }

  containerFd(): number {
    this.spawn();
    this.container ??= this.fdOf(this.push({ op: 'open', pid: PID, path: '/dev/vfio/vfio' }));
    return this.container;
  }

  groupFd(): number {
    this.declare();
    this.spawn();
    this.group ??= this.fdOf(this.push({ op: 'open', pid: PID, path: this.groupPath }));
    return this.group;
  }

  /** VFIO_GROUP_SET_CONTAINER. */
  attach(): void {
    if (this.attached) return;
    const c = this.containerFd();
    const g = this.groupFd();
    this.attached = true;
    this.ioctl(g, 'VFIO_GROUP_SET_CONTAINER', { fd: c });
  }

  /** VFIO_SET_IOMMU (type1v2, type1, or noiommu) after the attach; returns the container fd. */
  iommu(): number {
    this.attach();
    if (!this.iommuSet) {
      this.iommuSet = true;
      this.ioctl(this.containerFd(), 'VFIO_SET_IOMMU', this.options.noiommu === true ? 'VFIO_NOIOMMU_IOMMU' : this.options.v1 === true ? 'VFIO_TYPE1_IOMMU' : 'VFIO_TYPE1v2_IOMMU');
    }
    return this.containerFd();
  }

  /** VFIO_GROUP_GET_DEVICE_FD once the container has its driver. */
  deviceFd(): number {
    this.iommu();
    this.device ??= this.fdOf(this.ioctl(this.groupFd(), 'VFIO_GROUP_GET_DEVICE_FD', { name: this.deviceName }));
    return this.device;
  }

  /** 2 MiB of anonymous memory at ANON. */
  anon(extra: GenRecord = {}): bigint {
    this.spawn();
    if (this.anonAt === undefined) {
      this.fdOf(this.push({ op: 'mmap', pid: PID, addr: hex(ANON), length: hex(ANON_SIZE), ...extra }));
      this.anonAt = ANON;
    }
    return this.anonAt;
  }

  /** Two pages of BAR0 mmapped at BAR_VA (no PTE yet). */
  barMmap(prot?: readonly string[]): bigint {
    const fd = this.deviceFd();
    if (this.bar === undefined) {
      this.fdOf(this.push({ op: 'mmap', pid: PID, fd, offset: '0x0', addr: hex(BAR_VA), length: hex(BAR_MAP_SIZE), ...(prot === undefined ? {} : { prot: [...prot] }) }));
      this.bar = BAR_VA;
    }
    return this.bar;
  }

  /** VFIO_IOMMU_MAP_DMA of `size` bytes at `iova` from `vaddr` (default: the anonymous memory at IOVA). */
  map(o: { iova?: bigint; size?: bigint; vaddr?: bigint; flags?: readonly string[]; extra?: GenRecord } = {}): Applied {
    const fd = this.iommu();
    const vaddr = o.vaddr ?? this.anon();
    return this.ioctl(fd, 'VFIO_IOMMU_MAP_DMA', { flags: [...(o.flags ?? ['READ', 'WRITE'])], vaddr: hex(vaddr), iova: hex(o.iova ?? IOVA), size: hex(o.size ?? ANON_SIZE) }, o.extra);
  }

  /** VFIO_IOMMU_UNMAP_DMA of [iova, iova + size) (default: the whole mapping `map()` makes). */
  unmap(o: { iova?: bigint; size?: bigint; flags?: readonly string[]; extra?: GenRecord } = {}): Applied {
    return this.ioctl(this.iommu(), 'VFIO_IOMMU_UNMAP_DMA', { flags: [...(o.flags ?? [])], iova: hex(o.iova ?? IOVA), size: hex(o.size ?? ANON_SIZE) }, o.extra);
  }

  /** iommu_sva_bind_device of the process on the device (PASID 1), over the anonymous memory. */
  svaBind(): void {
    this.declare();
    this.anon();
    this.push({ op: 'sva.bind', device: this.deviceName, pid: PID });
  }

  /** The driver stops PASID 1 on the device, then unbinds (the kernel-doc of iommu_sva_unbind_device). */
  svaUnbind(): void {
    this.push({ op: 'device.stop_pasid', device: this.deviceName, pasid: 1 });
    this.push({ op: 'sva.unbind', device: this.deviceName, pid: PID });
  }

  close(fd: number, extra: GenRecord = {}): Applied {
    return this.push({ op: 'close', pid: PID, fd, ...extra });
  }

  exit(extra: GenRecord = {}): Applied {
    this.spawn();
    this.exited = true;
    return this.push({ op: 'exit', pid: PID, ...extra });
  }

  /** Queues `record` on `task` and runs its first `steps` steps (the rest: settle()). */
  start(task: string, record: GenRecord, steps = 1): void {
    this.push({ ...record, task });
    for (let i = 0; i < steps; i += 1) this.push({ op: 'step', task });
  }

  /**
   * Runs every task still in flight until its stimulus returns. A task that waits for the
   * process (an unbind waiting for the device the process holds open) gets it: the process exits.
   */
  settle(): void {
    for (const task of this.log.pendingTasks) {
      if (this.log.blocked(task) && !this.exited) this.exit();
      this.log.runTask(task);
    }
  }
}

type JsonArg = GenRecord[string];
