/**
 * NoOverlap: the live vfio_dma ranges of one container never overlap. Kernel rule:
 * vfio_dma_do_map refuses a range that meets a live vfio_dma (vfio_find_dma: -EEXIST), so a
 * scheme that links an overlapping one shows up here.
 */
import { hex } from '../../log/u64.js';
import type { Touched } from '../../core/tx.js';
import type { World } from '../../core/world.js';
import { above, below } from '../../core/iova-tree.js';

/** vfio_dma_do_map's -EEXIST rule: the violation messages of the dmas a record linked (none when it holds). */
export function noOverlap(w: World, t: Touched): string[] {
  const out: string[] = [];
  // NoOverlap: each new dma against its neighbours in iova order.
  for (const { container, iova, dma } of t.dmas) {
    const dmas = w.containers.get(container)?.type1?.dmas;
    const d = dmas?.get(iova);
    if (dmas === undefined || d === undefined || d.id !== dma) continue;
    const prev = below(dmas, iova);
    const next = above(dmas, iova);
    if (prev !== undefined && prev.iova + prev.size > d.iova) out.push(`container ${container}: [${hex(prev.iova)}, +${hex(prev.size)}) overlaps [${hex(d.iova)}, +${hex(d.size)})`);
    if (next !== undefined && d.iova + d.size > next.iova) out.push(`container ${container}: [${hex(d.iova)}, +${hex(d.size)}) overlaps [${hex(next.iova)}, +${hex(next.size)})`);
  }
  return out;
}
