/**
 * NoDeadlock and TeardownCompletes: properties of a state of the task system rather than of a
 * step (docs/concurrency.md gives their exact meaning).
 */
import { holders } from '../core/locks.js';
import type { Task, World } from '../core/world.js';
import type { Requirement } from '../paths/types.js';
import { lockCell, scenarioOf, type LockScenario } from './scenario.js';

/**
 * What the liveness checks ask of the engine, which sits above them (src/run/engine.ts builds
 * one for a scheme: `scheduler(scheme)`).
 */
export interface Scheduler {
  /** The task has a path in flight or a stimulus queued. */
  hasWork(t: Task): boolean;
  /** The first requirement the task's next step lacks, or null when it can run. */
  blockedOn(w: World, t: Task): Requirement | null;
  /** A requirement as the reports show it. */
  describeBlock(w: World, r: Requirement): string;
}

interface Pending {
  readonly name: string;
  readonly blocked: string | null;
  readonly requirement: Requirement | null;
  readonly waitsFor: string[];
}

/** Tasks that still have work, and whether each can take its next step. */
function pending(w: World, sched: Scheduler): Pending[] {
  const out: Pending[] = [];
  for (const t of w.tasks.values()) {
    if (!sched.hasWork(t)) continue;
    const b = sched.blockedOn(w, t);
    out.push({
      name: t.name,
      blocked: b === null ? null : sched.describeBlock(w, b),
      requirement: b,
      waitsFor: b === null ? [] : 'lock' in b ? holders(w, b.lock) : [...(b.on ?? [])],
    });
  }
  return out;
}

/** A NoDeadlock finding: its one-line message and the tasks' locks and waits as a scenario. */
export interface Deadlock {
  readonly message: string;
  readonly scenario: LockScenario;
}

/** The scenario of blocked tasks: each one's held locks, then what it waits for. */
function blockedScenario(w: World, kind: LockScenario['kind'], tasks: readonly Pending[]): LockScenario {
  return scenarioOf(
    kind,
    tasks.map((p) => {
      const r = p.requirement!;
      return { task: p.name, holds: (w.tasks.get(p.name)?.held ?? []).map((h) => lockCell(h.id, h.mode)), wants: 'lock' in r ? lockCell(r.lock, r.mode) : `wait(${r.wait});` };
    }),
  );
}

/**
 * A wait-for cycle: tasks each blocked on something another task of the cycle holds. Reported
 * as soon as it forms, even if other tasks can still run.
 */
export function waitForCycle(w: World, sched: Scheduler): Deadlock | null {
  const p = pending(w, sched);
  const waits = new Map(p.filter((t) => t.blocked !== null).map((t) => [t.name, t]));
  for (const start of waits.keys()) {
    const path = [start];
    let at = start;
    for (;;) {
      const next = waits.get(at)?.waitsFor.find((h) => waits.has(h));
      if (next === undefined) break;
      if (next === start) {
        const cycle = path.map((n) => waits.get(n)!);
        return { message: `wait-for cycle: ${cycle.map((t) => `${t.name} waits for ${t.blocked}`).join('; ')}`, scenario: blockedScenario(w, 'wait-for', cycle) };
      }
      if (path.includes(next)) break;
      path.push(next);
      at = next;
    }
  }
  return null;
}

/** Some task has work and no task can run: an invalid end state. */
export function stuck(w: World, sched: Scheduler): Deadlock | null {
  const p = pending(w, sched);
  if (p.length === 0 || p.some((t) => t.blocked === null)) return null;
  return { message: `no task can run: ${p.map((t) => `${t.name} waits for ${t.blocked}`).join('; ')}`, scenario: blockedScenario(w, 'stuck', p) };
}

/**
 * TeardownCompletes, judged in a state where no task has work and every process has exited:
 * every object reached its final state. Returns what is left, or null.
 */
export function leftovers(w: World, sched: Pick<Scheduler, 'hasWork'>): string | null {
  if (w.processes.size === 0) return null;
  for (const p of w.processes.values()) if (p.state !== 'exited') return null;
  const left: string[] = [];
  for (const t of w.tasks.values()) if (sched.hasWork(t)) left.push(`task ${t.name}`);
  for (const c of w.containers.values()) {
    const n = c.type1?.dmas.size ?? 0;
    if (n > 0) left.push(`${n} mapping(s) in container ${c.id}`);
    if (c.type1?.domain != null) left.push(`IOMMU domain ${c.type1.domain.id}`);
  }
  for (const [pasid, e] of w.pasids) if (e.state !== 'free') left.push(`PASID ${pasid} (${e.state})`);
  for (const b of w.bonds) left.push(`SVA bond ${b.device}/${b.pasid}`);
  for (const mm of w.mms.values()) if (mm.svaNotifiers.length > 0) left.push(`MMU notifier(s) on mm ${mm.id}`);
  for (const r of w.pageRequests) if (r.state === 'pending') left.push(`page request ${r.id}`);
  return left.length === 0 ? null : left.join(', ');
}
