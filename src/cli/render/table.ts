/**
 * Tables for the terminal, laid out by cli-table3 (it measures cells by their visible width, so
 * coloured cells line up): no borders, two spaces between columns, as `ls -l` and lockdep lay
 * out columns. The renderers give rows of strings; this gives the lines.
 */
import Table from 'cli-table3';

const NONE = '';
const CHARS = {
  top: NONE, 'top-mid': NONE, 'top-left': NONE, 'top-right': NONE,
  bottom: NONE, 'bottom-mid': NONE, 'bottom-left': NONE, 'bottom-right': NONE,
  left: NONE, 'left-mid': NONE, mid: NONE, 'mid-mid': NONE,
  right: NONE, 'right-mid': NONE, middle: '  ',
};

/** Columns a cell takes on the terminal: its length without colour codes. */
function visible(s: string): number {
  return s.replace(/\x1b\[[0-9;]*m/g, '').length;
}

/**
 * The lines of a table: `head` (if any) then the rows, each line indented by `indent` spaces.
 * Given a width, the last column wraps within itself (a description under its own column), so
 * that the table fits.
 */
export function tableLines(head: readonly string[] | null, rows: readonly (readonly string[])[], indent = 0, width?: number): string[] {
  const all = head === null ? rows : [head, ...rows];
  const n = Math.max(0, ...all.map((r) => r.length));
  const natural = Array.from({ length: n }, (_, i) => Math.max(0, ...all.map((r) => visible(r[i] ?? ''))) + (i < n - 1 ? 2 : 0));
  const used = indent + natural.slice(0, -1).reduce((a, b) => a + b, 0);
  const wrapLast = width !== undefined && Number.isFinite(width) && n > 1 && used + natural[n - 1]! > width && width - used >= 20;
  const t = new Table({
    ...(head === null ? {} : { head: [...head] }),
    chars: CHARS,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0, compact: true },
    ...(wrapLast ? { colWidths: [...natural.slice(0, -1).map((w) => w - 2), width! - used], wordWrap: true } : {}),
  });
  for (const r of rows) t.push([...r]);
  const pad = ' '.repeat(indent);
  return t
    .toString()
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => `${pad}${l.trimEnd()}`);
}
