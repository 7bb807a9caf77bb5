/**
 * Object lifetimes across a path's steps (KernelUseAfterFree). A kernel path that keeps a
 * pointer to an object in a local and uses it in a later step is safe only while something keeps
 * the object alive in between: the lock that protects it (MAP_DMA holds iommu->lock from
 * vfio_link_dma to the end), or a reference. Between two steps other tasks run; if one of them
 * frees the object, the later use reads freed memory, which KASAN reports as a use-after-free.
 *
 * A path keeps its pointers in its locals (`ctx.kept`, by name) as KeptRefs, and asks `useKept`
 * before it dereferences one in a later step. The code that frees an object calls `noteFree`,
 * which marks every reference a task keeps to it, so that the use is reported with the path
 * that freed it and the step where it did. The kept reference also carries the object's identity
 * (a vfio_dma's id), so that an object freed and made again at the same key is not taken for the
 * one the path kept.
 */
import { stepOf } from './locks.js';
import type { Tx } from './tx.js';
import type { Task } from './world.js';

/** The kinds of kernel object a path keeps a pointer to across its steps. */
export type ObjectKind = 'vfio_dma' | 'sva_bond';

/** A pointer a path keeps in its locals: enough to find the object again and to tell it is the same one. */
export interface KeptRef {
  readonly kind: ObjectKind;
  /** The object's key: `<container>@<iova>` for a vfio_dma, `<device>/<pasid>` for an SVA bond. */
  readonly key: string;
  /** Its identity where it has one (a vfio_dma's id); null for an SVA bond, whose key is new with each bind. */
  readonly id: number | null;
  /** The step that took the pointer, and the locks the task held then. */
  readonly keptAt: string;
  readonly locksThen: readonly string[];
  /** Set when a task frees the object while this one keeps it: which task, at which step, in which kernel function. */
  freedBy: { readonly task: string; readonly at: string; readonly by: string } | null;
}

/** The locals of a path that keeps pointers across its steps. */
export interface KeepsRefs {
  kept?: Record<string, KeptRef>;
}

function keptOf(task: Task): Record<string, KeptRef> | undefined {
  return (task.current?.ctx as KeepsRefs | undefined)?.kept;
}

/** The running path of `task` keeps a pointer to the object as `name` (until its path returns or it forgets it). */
export function keep(task: Task, name: string, kind: ObjectKind, key: string, id: number | null): void {
  const ctx = task.current!.ctx as KeepsRefs;
  ctx.kept ??= {};
  ctx.kept[name] = { kind, key, id, keptAt: stepOf(task), locksThen: task.held.map((h) => h.id), freedBy: null };
}

/** The path no longer keeps `name` (the kernel re-reads the object from its structure instead). */
export function forget(task: Task, name: string): void {
  const kept = keptOf(task);
  if (kept !== undefined) delete kept[name];
}

/**
 * The object `kind`/`key` is freed (kfree) by the running task in kernel function `by`: every
 * pointer a task keeps to it now points to freed memory.
 */
export function noteFree(tx: Tx, kind: ObjectKind, key: string, id: number | null, by: string): void {
  for (const t of tx.world.tasks.values()) {
    for (const r of Object.values(keptOf(t) ?? {})) {
      if (r.kind === kind && r.key === key && r.id === id && r.freedBy === null) r.freedBy = { task: tx.task?.name ?? '(none)', at: stepOf(tx.task), by };
    }
  }
}

/**
 * The running path dereferences its kept pointer `name` (`what`: the kernel's read of it).
 * `now` is the object at the kept key (undefined: none), with its identity. True when it is
 * still the object the path kept; otherwise the use is recorded as KernelUseAfterFree and the
 * caller goes on as the kernel would, with what the freed memory still holds.
 */
export function useKept(tx: Tx, task: Task, name: string, now: { readonly id: number | null } | undefined, what: string): boolean {
  const r = keptOf(task)?.[name];
  if (r === undefined) return now !== undefined;
  if (r.freedBy === null && now !== undefined && now.id === r.id) return true;
  const held = new Set(task.held.map((h) => h.id));
  const dropped = r.locksThen.filter((l) => !held.has(l));
  const object = `${r.kind} ${r.key}${r.id === null ? '' : ` (id ${r.id})`}`;
  const freed =
    r.freedBy !== null
      ? `task ${r.freedBy.task} freed it at ${r.freedBy.at} (${r.freedBy.by})`
      : now === undefined
        ? 'it is gone and no path the model tracks freed it'
        : `another object (id ${now.id}) now has its key`;
  const across = dropped.length === 0 ? '' : `, across the drop of ${dropped.join(', ')}`;
  const m = `task ${task.name} used ${object} at ${stepOf(task)} (${what}) after ${freed}; it kept the pointer from ${r.keptAt}${across}`;
  if (!tx.touched.useAfterFree.includes(m)) tx.touched.useAfterFree.push(m);
  return false;
}
