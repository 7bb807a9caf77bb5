/**
 * The explorer's visited set: 53-bit fingerprints in one Float64Array, open addressing with
 * linear probing. A slot is 8 bytes; the table grows by half once it is three quarters full, so
 * it holds 8 / 0.75 = 10.7 to 8 / 0.5 = 16 bytes per state (a JavaScript Set of numbers takes
 * about 50). The slot of a fingerprint is its low 32 bits scaled to the table (they are well
 * mixed: src/core/hash.ts); 0 marks a free slot, so the fingerprint 0 is kept aside.
 */
const TWO32 = 4294967296;

export class VisitedSet {
  private slots: Float64Array;
  private count = 0;
  private zero = false;

  constructor(capacity = 1024) {
    this.slots = new Float64Array(Math.max(16, Math.ceil(capacity / 0.75)));
  }

  get size(): number {
    return this.count;
  }

  /** The bytes the table takes (outside the JavaScript heap: an ArrayBuffer). */
  get bytes(): number {
    return this.slots.byteLength;
  }

  private slotOf(fp: number, slots: Float64Array): number {
    return Math.floor(((fp >>> 0) / TWO32) * slots.length);
  }

  has(fp: number): boolean {
    if (fp === 0) return this.zero;
    const s = this.slots;
    for (let i = this.slotOf(fp, s); ; i = i + 1 === s.length ? 0 : i + 1) {
      const x = s[i]!;
      if (x === fp) return true;
      if (x === 0) return false;
    }
  }

  /** Adds a fingerprint; false if it was there already. */
  add(fp: number): boolean {
    if (fp === 0) {
      if (this.zero) return false;
      this.zero = true;
      this.count += 1;
      return true;
    }
    const s = this.slots;
    let i = this.slotOf(fp, s);
    for (; ; i = i + 1 === s.length ? 0 : i + 1) {
      const x = s[i]!;
      if (x === fp) return false;
      if (x === 0) break;
    }
    s[i] = fp;
    this.count += 1;
    if (this.count > s.length * 0.75) this.grow();
    return true;
  }

  private grow(): void {
    const old = this.slots;
    const s = new Float64Array(Math.ceil(old.length * 1.5));
    for (const fp of old) {
      if (fp === 0) continue;
      let i = this.slotOf(fp, s);
      while (s[i] !== 0) i = i + 1 === s.length ? 0 : i + 1;
      s[i] = fp;
    }
    this.slots = s;
  }

  /** Every fingerprint, ascending (a checkpoint's `visited`: independent of the order they came in). */
  sorted(): number[] {
    const out: number[] = this.zero ? [0] : [];
    for (const fp of this.slots) if (fp !== 0) out.push(fp);
    return out.sort((a, b) => a - b);
  }

  static of(fps: Iterable<number>): VisitedSet {
    const v = new VisitedSet();
    for (const fp of fps) v.add(fp);
    return v;
  }
}

/**
 * The probability that two of `distinct` states share a 53-bit fingerprint, so that the search
 * may have merged two states and left some unexplored: the birthday bound n(n-1)/2 / 2^53 for a
 * uniform hash (docs/concurrency.md, "Fingerprints"). TLC prints the same estimate as
 * "calculated (optimistic)".
 */
export function collisionProbability(distinct: number): number {
  return (distinct * (distinct - 1)) / 2 / 2 ** 53;
}

/** As TLC writes it: `1.2E-13`. */
export function formatProbability(p: number): string {
  return p === 0 ? '0.0' : p.toExponential(1).toUpperCase().replace('E+', 'E');
}
