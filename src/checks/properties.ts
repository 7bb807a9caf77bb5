/**
 * The safety properties (src/vocab/properties.ts) that one history can show, checked after every record.
 * Each is a named predicate with its gloss and the kernel rule it stands for, one module per
 * property in ./properties/; this module runs them in a fixed order. Checks look only at what
 * the record touched (Touched), so a record's check costs O(what it changed).
 *
 * The checks judge from world facts the engine does not use to decide outcomes (page-table
 * extents, pins, device decode state), so a rule that forgets a step shows up here.
 */
import type { PropertyName } from '../vocab/properties.js';
import type { Touched } from '../core/tx.js';
import type { World } from '../core/world.js';
import { LockGraph } from './lockdep.js';
import type { LockDetail } from './scenario.js';
import { noOverlap } from './properties/NoOverlap.js';
import { noDmaUseAfterFree } from './properties/NoDmaUseAfterFree.js';
import { noDmaToDisabledMmio } from './properties/NoDmaToDisabledMmio.js';
import { isolationBreach } from './properties/IsolationBreach.js';
import { lockedVmConserved, PinTally } from './properties/LockedVmConserved.js';
import { pasidNotReusedWhileLive } from './properties/PasidNotReusedWhileLive.js';
import { msiWindowIntact } from './properties/MsiWindowIntact.js';
import { faultsAnswered } from './properties/FaultsAnswered.js';
import { kernelBug } from './properties/KernelBug.js';
import { noBlockInNonBlockable } from './properties/NoBlockInNonBlockable.js';
import { lockOrder } from './properties/LockOrder.js';
import { kernelUseAfterFree } from './properties/KernelUseAfterFree.js';
import { protectedByLock } from './properties/ProtectedByLock.js';

/** A violation: its one-line message and, for a lock finding, lockdep's scenario (./scenario.ts). */
export interface Violation extends LockDetail {
  readonly property: PropertyName;
  readonly seq: number;
  readonly message: string;
}

/**
 * Checks the history properties after each record. It keeps what the stateful ones need: for
 * LockedVmConserved, per mm, the pages pinned and charged to it (PinTally); for LockOrder, the
 * lock graph.
 */
export class Checker {
  /** The LockedVmConserved tally; null when it is recomputed from the world (not incremental). */
  private readonly tally: PinTally | null;
  /** The lock graph over every step this checker saw. */
  lockGraph = new LockGraph();

  /**
   * `incremental`: one history (replay), the LockedVmConserved tally carried from record to
   * record. Otherwise (the explorer, whose successive checks are on different histories) the
   * tally is recomputed for the touched mms from the world.
   */
  constructor(incremental = true) {
    this.tally = incremental ? new PinTally() : null;
  }

  /** A non-incremental checker with a copy of this one's lock graph. */
  fork(): Checker {
    const c = new Checker(false);
    c.lockGraph = this.lockGraph.clone();
    return c;
  }

  /**
   * Every property's violations after a record, in a fixed order: the order they are reported in.
   * `state` is the same world for the checks that, without a tally, judge the world alone and not
   * the record (LockedVmConserved in the explorer): partial-order reduction passes the untracked
   * world there, since a state's own predicate is no part of a step's footprint (src/run/reduction.ts).
   */
  check(w: World, t: Touched, seq: number, state: World = w): Violation[] {
    const out: Violation[] = [];
    const v = (property: PropertyName, messages: Iterable<string>): void => {
      for (const message of messages) out.push({ property, seq, message });
    };
    const once = (property: PropertyName, message: string | null): void => {
      if (message !== null) out.push({ property, seq, message });
    };
    v('NoOverlap', noOverlap(w, t));
    // Each landing is judged by the three DMA properties in turn, so their reports interleave by landing.
    for (const l of t.landings) {
      once('NoDmaUseAfterFree', noDmaUseAfterFree(l));
      once('NoDmaToDisabledMmio', noDmaToDisabledMmio(l));
      once('IsolationBreach', isolationBreach(l));
    }
    v('LockedVmConserved', lockedVmConserved(this.tally === null ? state : w, t, this.tally));
    v('PasidNotReusedWhileLive', pasidNotReusedWhileLive(t));
    v('MsiWindowIntact', msiWindowIntact(w, t));
    v('FaultsAnswered', faultsAnswered(w, t));
    v('KernelBug', kernelBug(t));
    v('NoBlockInNonBlockable', noBlockInNonBlockable(t));
    v('KernelUseAfterFree', kernelUseAfterFree(t));
    v('ProtectedByLock', protectedByLock(t));
    for (const c of lockOrder(this.lockGraph, t)) out.push({ property: 'LockOrder', seq, ...c });
    return out;
  }
}
