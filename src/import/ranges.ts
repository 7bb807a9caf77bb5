/**
 * A set of IOVA ranges: sorted, disjoint, half-open [start, end), adjacent ranges merged. What the
 * importer keeps of the page table a trace's `map` and `unmap` events describe.
 */

export type Range = readonly [bigint, bigint];

export class RangeSet {
  private starts: bigint[] = [];
  private ends: bigint[] = [];

  /** The index of the first range whose end is above `at`. */
  private first(at: bigint): number {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ends[mid]! <= at) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  get size(): number {
    return this.starts.length;
  }

  add(start: bigint, end: bigint): void {
    if (end <= start) return;
    // the ranges touching [start, end], adjacent ones included, merge into one
    let i = this.first(start);
    if (i > 0 && this.ends[i - 1]! === start) i -= 1;
    let j = i;
    let s = start;
    let e = end;
    while (j < this.starts.length && this.starts[j]! <= end) {
      if (this.starts[j]! < s) s = this.starts[j]!;
      if (this.ends[j]! > e) e = this.ends[j]!;
      j += 1;
    }
    this.starts.splice(i, j - i, s);
    this.ends.splice(i, j - i, e);
  }

  remove(start: bigint, end: bigint): void {
    if (end <= start) return;
    const i = this.first(start);
    let j = i;
    const keepS: bigint[] = [];
    const keepE: bigint[] = [];
    while (j < this.starts.length && this.starts[j]! < end) {
      if (this.starts[j]! < start) {
        keepS.push(this.starts[j]!);
        keepE.push(start);
      }
      if (this.ends[j]! > end) {
        keepS.push(end);
        keepE.push(this.ends[j]!);
      }
      j += 1;
    }
    this.starts.splice(i, j - i, ...keepS);
    this.ends.splice(i, j - i, ...keepE);
  }

  /** The parts of [start, end) in the set. */
  within(start: bigint, end: bigint): Range[] {
    const out: Range[] = [];
    for (let i = this.first(start); i < this.starts.length && this.starts[i]! < end; i += 1) {
      out.push([this.starts[i]! > start ? this.starts[i]! : start, this.ends[i]! < end ? this.ends[i]! : end]);
    }
    return out;
  }

  /** The parts of [start, end) not in the set. */
  missing(start: bigint, end: bigint): Range[] {
    const out: Range[] = [];
    let at = start;
    for (const [s, e] of this.within(start, end)) {
      if (s > at) out.push([at, s]);
      at = e;
    }
    if (at < end) out.push([at, end]);
    return out;
  }

  covers(start: bigint, end: bigint): boolean {
    return this.missing(start, end).length === 0;
  }

  has(at: bigint): boolean {
    const i = this.first(at);
    return i < this.starts.length && this.starts[i]! <= at;
  }
}
