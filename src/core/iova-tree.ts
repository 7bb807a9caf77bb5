/**
 * An IOVA-ordered tree (the kernel's rb-trees of vfio_dma and of IOMMU PTE runs), backed by
 * sorted-btree: O(log n) insert, delete and neighbour lookups, and O(1) copy-on-write clones for
 * the explorer. Keys are the start IOVA; the model's entries never overlap.
 */
import sortedBtree from 'sorted-btree';

// sorted-btree is CommonJS with `exports.default = BTree`: Node's ESM import gives the exports
// object, vite's interop (the tests) gives the class itself.
type BTreeClass = typeof sortedBtree.default;
const BTree: BTreeClass = typeof sortedBtree === 'function' ? (sortedBtree as unknown as BTreeClass) : sortedBtree.default;

export type IovaTree<V> = InstanceType<typeof BTree<bigint, V>>;

const compare = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0);

export function iovaTree<V>(): IovaTree<V> {
  return new BTree<bigint, V>(undefined, compare);
}

export function isIovaTree(v: unknown): v is IovaTree<unknown> {
  return v instanceof BTree;
}

/** The entry with the greatest start at or below `iova`. */
export function atOrBelow<V>(t: IovaTree<V>, iova: bigint): V | undefined {
  return t.getPairOrNextLower(iova)?.[1];
}

/** The entry with the smallest start above `iova`. */
export function above<V>(t: IovaTree<V>, iova: bigint): V | undefined {
  return t.nextHigherPair(iova)?.[1];
}

/** The entry with the greatest start below `iova`. */
export function below<V>(t: IovaTree<V>, iova: bigint): V | undefined {
  return t.nextLowerPair(iova)?.[1];
}
