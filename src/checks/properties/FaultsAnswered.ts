/**
 * FaultsAnswered: every page request gets exactly one response, and none is left at teardown.
 * Kernel rule: each iopf group is answered once (iopf_group_response), and
 * iopf_queue_remove_device answers what is still pending when a device goes. Holds isTornDown.
 */
import type { Touched } from '../../core/tx.js';
import type { World } from '../../core/world.js';

/** Every process has exited and every device is unbound. */
export function isTornDown(w: World): boolean {
  if (w.processes.size === 0 && w.devices.size === 0) return false;
  for (const p of w.processes.values()) if (p.state !== 'exited') return false;
  for (const d of w.devices.values()) if (d.state !== 'removed') return false;
  return true;
}

/** No page request left unanswered at teardown: the violation messages after a record (none when it holds). */
export function faultsAnswered(w: World, t: Touched): string[] {
  if (!t.teardown || !isTornDown(w)) return [];
  const pending = w.pageRequests.filter((r) => r.state === 'pending');
  return pending.length > 0 ? [`${pending.length} page request(s) left unanswered at teardown`] : [];
}
