/**
 * Start -> end of the timeline view's ranged objects (vfio_dma, pte, vma) per owner (container or
 * mm), so that a record naming a range finds the objects that overlapped it before the record.
 */
import { iovaTree, type IovaTree } from '../../core/iova-tree.js';

export class RangeIndex {
  private readonly trees = new Map<string, IovaTree<bigint>>();

  private tree(kind: string, owner: number): IovaTree<bigint> {
    const k = `${kind}:${owner}`;
    let t = this.trees.get(k);
    if (t === undefined) {
      t = iovaTree<bigint>();
      this.trees.set(k, t);
    }
    return t;
  }

  set(kind: string, owner: number, start: bigint, end: bigint): void {
    this.tree(kind, owner).set(start, end);
  }

  remove(kind: string, owner: number, start: bigint): void {
    this.trees.get(`${kind}:${owner}`)?.delete(start);
  }

  /** `<kind>:<owner>@<start>` of each entry overlapping [start, end). */
  overlapping(kind: string, owner: number, start: bigint, end: bigint): string[] {
    const t = this.trees.get(`${kind}:${owner}`);
    if (t === undefined) return [];
    const out: string[] = [];
    const first = t.getPairOrNextLower(start);
    if (first !== undefined && first[1] > start && first[0] < start) out.push(`${kind}:${owner}@0x${first[0].toString(16)}`);
    t.forRange(start, end, false, (k) => void out.push(`${kind}:${owner}@0x${k.toString(16)}`));
    return out;
  }
}
