/**
 * Lines of a log as bytes: a splitter fed the file's chunks in order, which yields each line
 * (without its "\n") and never holds more than the line limit of the line it is reading, so a
 * file with no newline (`/dev/zero`) or a line of gigabytes ends in an input error, not in an
 * out-of-memory or V8's string limit. Decoding is the reader's (LogReader.pushBytes).
 */
import { fail } from '../vocab/errors.js';

/** The default line limit (`--max-line`; docs/log-format.md, "Reading a log, and its limits"). */
export const DEFAULT_MAX_LINE = 64 * 1024 * 1024;

const UNITS = [
  [1024 * 1024 * 1024, 'GiB'],
  [1024 * 1024, 'MiB'],
  [1024, 'KiB'],
] as const;

/** A size as a message says it: `64 MiB`, `4 KiB`, `4095 bytes`. */
export function formatSize(bytes: number): string {
  const unit = UNITS.find(([n]) => bytes >= n && bytes % n === 0);
  return unit === undefined ? `${bytes} bytes` : `${bytes / unit[0]} ${unit[1]}`;
}

export class LineSplitter {
  private parts: Uint8Array[] = [];
  private held = 0;
  private lines = 0;

  /**
   * `maxLine`: the longest line accepted, in bytes; `limitName` what sets it, for the message
   * (`--max-line`, or the longest string the runtime holds when that is lower).
   */
  constructor(
    readonly file: string,
    readonly maxLine: number,
    readonly limitName = '--max-line',
  ) {}

  /** The lines `chunk` completes, in order. */
  *push(chunk: Uint8Array): Generator<Uint8Array> {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      this.hold(end - start);
      if (nl === -1) {
        if (end > start) this.parts.push(chunk.subarray(start));
        return;
      }
      yield this.take(chunk.subarray(start, nl));
      start = nl + 1;
    }
  }

  /** The last line when the input did not end with "\n"; null when it did (or was empty). */
  finish(): Uint8Array | null {
    return this.parts.length === 0 ? null : this.take(new Uint8Array(0));
  }

  /** Counts `n` more bytes of the current line, failing before they are kept if it gets too long. */
  private hold(n: number): void {
    this.held += n;
    if (this.held > this.maxLine) fail({ file: this.file, line: this.lines + 1 }, null, `line is longer than ${formatSize(this.maxLine)} (${this.limitName})`);
  }

  private take(last: Uint8Array): Uint8Array {
    this.lines += 1;
    const line = this.parts.length === 0 ? last : concat([...this.parts, last], this.held);
    this.parts = [];
    this.held = 0;
    return line;
  }
}

function concat(parts: readonly Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
