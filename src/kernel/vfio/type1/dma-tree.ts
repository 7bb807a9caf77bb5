/**
 * vfio_iommu_type1's dma_list (drivers/vfio/vfio_iommu_type1.c, the 2025 version, checked
 * against kernel source in docs/kernel-notes.md item 2): vfio_find_dma,
 * vfio_find_dma_first_node, vfio_link_dma, vfio_pgsize_bitmap and the dma_entry_limit parameter.
 */
import { hex, PAGE_SIZE, U64_MAX } from '../../../log/u64.js';
import { Tx } from '../../../core/tx.js';
import { above, atOrBelow } from '../../../core/iova-tree.js';
import type { Container, Type1, VfioDma } from '../../../core/world.js';
import { ModelError } from '../../../vocab/errors.js';


/** Module parameter dma_entry_limit (default U16_MAX). */
export const DMA_ENTRY_LIMIT = 65535;

// ---------------------------------------------------------------------------------------------
// The rb-tree of vfio_dma (vfio_find_dma, vfio_find_dma_first_node, vfio_link_dma).

/**
 * vfio_find_dma: any dma overlapping [start, start+size). The entries never overlap, so the one
 * with the greatest iova below the end is the only candidate. With size 0 it is a point probe
 * that hits when dma->iova < start < dma->iova + dma->size (the walk goes left on equality).
 */
export function findDma(t: Type1, start: bigint, size: bigint): VfioDma | undefined {
  const d = size === 0n ? atOrBelow(t.dmas, start - 1n) : atOrBelow(t.dmas, start + size - 1n);
  return d !== undefined && d.iova + d.size > start ? d : undefined;
}

/** vfio_find_dma_first_node: the lowest dma with iova + size > start. */
export function firstNode(t: Type1, start: bigint): VfioDma | undefined {
  const d = atOrBelow(t.dmas, start);
  return d !== undefined && d.iova + d.size > start ? d : above(t.dmas, start);
}

/** vfio_link_dma: insert by iova (a size-0 dma sorts at its iova). */
export function linkDma(t: Type1, dma: VfioDma): void {
  t.dmas.set(dma.iova, dma);
}

/** The dma that starts exactly at `iova`, whatever its size (also a size-0 dma being pinned). */
export function dmaAt(t: Type1, iova: bigint): VfioDma | undefined {
  return t.dmas.get(iova);
}

/** Tells the checks that a dma's pins, owner or domain changed (LockedVmConserved). */
export function markPins(tx: Tx, c: Container, dma: VfioDma): void {
  tx.touched.pinChanges.push({ container: c.id, iova: dma.iova, dma: dma.id });
}

/** The object key of a vfio_dma in `state` records: `<container>@<iova>`. */
export function dmaKey(c: Container, dma: VfioDma): string {
  return `${c.id}@${hex(dma.iova)}`;
}

/** The container and vfio_dma of a `state` object key `<container>@<iova>`. */
export function dmaByKey(tx: Tx, key: string): { c: Container; dma: VfioDma } {
  const [cid, iova] = key.split('@') as [string, string];
  const c = tx.world.containers.get(Number(cid));
  const dma = c?.type1 == null ? undefined : dmaAt(c.type1, BigInt(iova));
  if (c === undefined || dma === undefined) throw new ModelError(`no vfio_dma ${key}`);
  return { c, dma };
}

/** pgsize_bitmap: PAGE_MASK with no domain; else the domain's, sub-page sizes hidden. */
export function pgsizeBitmap(tx: Tx, t: Type1): bigint {
  if (t.domain === null) return U64_MAX & ~(PAGE_SIZE - 1n);
  let b = tx.world.iommu.pgsizeBitmap;
  if ((b & (PAGE_SIZE - 1n)) !== 0n) b = (b & ~(PAGE_SIZE - 1n)) | PAGE_SIZE;
  return b;
}
