/**
 * The kernel engine: applies one stimulus to the world and returns its outcome, the derived
 * records it caused and what it touched. A table maps each op to the rule that mirrors its
 * kernel entry point; errors from rules become outcomes here.
 */
import type { Stimulus, StimulusOp, StimulusOf } from '../log/records.js';
import type { Scheme } from '../schemes/scheme.js';
import * as device from './rules/device.js';
import * as files from './rules/files.js';
import * as host from './rules/host.js';
import * as mdev from './rules/mdev.js';
import * as mm from './rules/mm.js';
import * as sva from './rules/sva.js';
import { BadReference, KernelOops, KernelReturn, Tx, type Outcome, type Touched } from './tx.js';
import type { World } from './world.js';
import type { Derived } from '../log/records.js';

type Rule<O extends StimulusOp> = (tx: Tx, s: StimulusOf<O>) => Outcome;

const RULES: { [O in StimulusOp]: Rule<O> | null } = {
  'host.iommu': host.hostIommu,
  'host.device': host.hostDevice,
  'host.mdev': host.hostMdev,
  'process.spawn': mm.spawn,
  open: files.open,
  close: files.close,
  ioctl: files.ioctl,
  mmap: mm.mmap,
  munmap: mm.munmap,
  touch: mm.touch,
  'pci.command': device.pciCommand,
  fork: mm.fork,
  exit: mm.exit,
  'device.dma': device.deviceDma,
  'device.page_request': sva.pageRequest,
  'device.stop_pasid': sva.stopPasid,
  'device.unbind': device.unbind,
  'mm.reclaim': mm.reclaim,
  'mm.oom_reap': mm.oomReap,
  'mdev.pin_pages': mdev.pinPages,
  'mdev.unpin_pages': mdev.unpinPages,
  'mdev.dma_rw': mdev.dmaRw,
  'sva.bind': sva.bind,
  'sva.unbind': sva.unbind,
  step: null, // concurrency: docs/model.md
};

export interface Applied {
  readonly outcome: Outcome;
  readonly derived: readonly Derived[];
  readonly touched: Touched;
}

/**
 * Applies a stimulus. Throws BadReference for input the kernel could never see (exit 2);
 * kernel errors and BUG_ONs are outcomes.
 */
export function applyStimulus(world: World, scheme: Scheme, s: Stimulus): Applied {
  const rule = RULES[s.op] as Rule<StimulusOp> | null;
  if (rule === null || s.task !== undefined) {
    throw new BadReference(s.op === 'step' ? 'op' : 'task', 'concurrent tasks and steps (SPEC 1.5) are not modelled yet: replay runs each stimulus to completion');
  }
  const tx = new Tx(world, scheme, s.seq);
  let outcome: Outcome;
  try {
    outcome = rule(tx, s as StimulusOf<StimulusOp>);
  } catch (e) {
    if (e instanceof KernelReturn) outcome = { errno: e.errno, decidedBy: e.check };
    else if (e instanceof KernelOops) {
      tx.kernelBug(e.check);
      outcome = { oops: e.check, decidedBy: e.check };
    } else throw e;
  }
  return { outcome, derived: tx.derived, touched: tx.touched };
}
