/**
 * The error catalogue: every error the tool reports, with its code, what it means, the exit
 * code the CLI gives it and what the user should do (immer's habit: an error says how to fix
 * it). Library code throws these classes; only src/cli maps them to exit codes and prints them.
 * A kernel errno is not an error of the tool: it is an outcome (src/core/tx.ts KernelReturn).
 */

export const ERRORS = {
  input: {
    exit: 2,
    means: 'a log line, field, file or command-line argument that cannot be used',
    fix: 'correct the file, line and field the message names (docs/log-format.md lists every op and field)',
  },
  reference: {
    exit: 2,
    means: 'a stimulus names something the log never declared, or that no longer exists at that point',
    fix: 'declare it first (host.device, host.mdev, process.spawn), or check the pid, fd, device or task it names',
  },
  model: {
    exit: 3,
    means: 'iommu-model reached a state its own rules say is impossible: a bug in the tool, not in the input',
    fix: 'please report it with the log; --debug prints the stack',
  },
} as const;

export type ErrorCode = keyof typeof ERRORS;

/** Bad input: a log line, field or CLI argument that cannot be used. Exit code 2. */
export class InputError extends Error {
  readonly code: ErrorCode = 'input';
  constructor(
    readonly file: string,
    readonly line: number | null,
    readonly field: string | null,
    readonly detail: string,
  ) {
    // One line whatever the input holds: a file name or a key with a newline or an escape
    // sequence cannot break the line or drive the terminal; a field named by input is cut.
    super(
      `${oneLine(file)}${line === null ? '' : `:${line}`}${field === null ? '' : `: field '${clip(field)}'`}: ${oneLine(detail)}`,
    );
    this.name = 'InputError';
  }
}

/**
 * A stimulus that names something the log never declared (an unknown pid, device or fd kind).
 * The replay and the explorer turn it into an InputError naming the record's line.
 */
export class BadReference extends Error {
  readonly code: ErrorCode = 'reference';
  constructor(
    readonly field: string,
    readonly detail: string,
  ) {
    super(`field '${field}': ${detail}`);
    this.name = 'BadReference';
  }
}

/** The model reached a state its own rules say is impossible: a bug in iommu-model, not input. */
export class ModelError extends Error {
  readonly code: ErrorCode = 'model';
  override name = 'ModelError';
  constructor(message: string) {
    super(oneLine(message));
  }
}

/**
 * A location inside a log, carried by validators so that every error can name file, line and field.
 */
export interface Where {
  readonly file: string;
  readonly line: number;
}

export function fail(where: Where, field: string | null, detail: string): never {
  throw new InputError(where.file, where.line, field, detail);
}

/** The longest echo of an input value in a message; a longer one is cut, saying by how much. */
export const SHOW_MAX = 200;

/**
 * Characters a message never carries raw: C0 controls (newline, NUL, ESC ...), DEL, C1 controls
 * (U+009B is CSI on some terminals), the Unicode line and paragraph separators, and lone
 * surrogates (not text; the terminal would get U+FFFD).
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function escapeUnsafe(c: string): string {
  if (c === '\n') return '\\n';
  if (c === '\r') return '\\r';
  if (c === '\t') return '\\t';
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** `s` on one line: every unsafe character escaped as JSON escapes it (`\n`, `\u001b`). */
export function oneLine(s: string): string {
  return s.replace(UNSAFE, escapeUnsafe);
}

/**
 * Collects a rendering up to `max` characters, then only counts: pieces are whole escapes or
 * tokens, so a cut never splits `\u001b`, and a huge input costs no memory past the limit.
 */
class Clipped {
  private text = '';
  private cut = 0;
  constructor(private readonly max: number) {}

  get full(): boolean {
    return this.cut > 0;
  }

  add(piece: string): void {
    if (this.cut === 0 && this.text.length + piece.length <= this.max) this.text += piece;
    else this.cut += piece.length;
  }

  /** Counts `n` characters as cut without seeing them. */
  skip(n: number): void {
    this.cut += n;
  }

  result(): string {
    return this.cut === 0 ? this.text : `${this.text}... (${this.cut} more characters)`;
  }
}

/** The unit (or surrogate pair) of `s` at `i` as a message shows it, and how many units it took. */
function unitAt(s: string, i: number, quoted: boolean): readonly [string, number] {
  const c = s.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
    const d = s.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return [s.slice(i, i + 2), 2];
  }
  const ch = s[i]!;
  if (quoted && (ch === '"' || ch === '\\')) return [`\\${ch}`, 1];
  return [oneLine(ch), 1];
}

/** Adds `s` unit by unit while it fits, then only counts what the rest would take. */
function addText(out: Clipped, s: string, quoted: boolean): void {
  let i = 0;
  while (i < s.length && !out.full) {
    const [text, width] = unitAt(s, i, quoted);
    out.add(text);
    i += width;
  }
  if (i >= s.length) return;
  // The rest is counted, not built: its length plus what each escape adds.
  let n = s.length - i;
  const re = new RegExp(quoted ? `["\\\\]|${UNSAFE.source}` : UNSAFE.source, 'g');
  re.lastIndex = i;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) n += unitAt(s, m.index, quoted)[0].length - 1;
  out.skip(n);
}

/** What is left to show: a literal token, a string to quote, or a value to walk. */
type Work = { readonly lit: string; readonly closes?: object } | { readonly str: string } | { readonly val: unknown };

/**
 * Any input value as JSON-ish text for a message: strings quoted with their control characters
 * escaped, at most SHOW_MAX characters and a marker saying how many more were cut. Walks arrays
 * and objects with its own stack (no recursion), so no nesting overflows it.
 */
export function showValue(v: unknown): string {
  // What a module threw can be anything: an Error shows as its name and message; a Proxy or a
  // getter that throws while it is walked shows as what it is, so that showing never throws.
  try {
    if (v instanceof Error) return clip(`${String(v.name)}: ${String(v.message)}`);
    return walkValue(v);
  } catch {
    return "(a value that cannot be shown: reading it threw)";
  }
}

function walkValue(v: unknown): string {
  const out = new Clipped(SHOW_MAX);
  const open = new Set<object>();
  const stack: Work[] = [{ val: v }];
  for (let w = stack.pop(); w !== undefined; w = stack.pop()) {
    if ('lit' in w) {
      out.add(w.lit);
      if (w.closes !== undefined) open.delete(w.closes);
      continue;
    }
    const x = 'str' in w ? w.str : w.val;
    if (typeof x === 'string') {
      out.add('"');
      addText(out, x, true);
      out.add('"');
    } else if (typeof x === 'bigint') out.add(`0x${x.toString(16)}`);
    else if (typeof x !== 'object' || x === null) out.add(String(x));
    else if (open.has(x)) out.add('[circular]');
    else {
      open.add(x);
      const array = Array.isArray(x);
      const entries: ReadonlyArray<readonly [string | null, unknown]> = array ? x.map((e: unknown) => [null, e] as const) : Object.entries(x);
      out.add(array ? '[' : '{');
      stack.push({ lit: array ? ']' : '}', closes: x });
      for (let i = entries.length - 1; i >= 0; i -= 1) {
        const [k, e] = entries[i]!;
        stack.push({ val: e });
        if (k !== null) stack.push({ lit: ':' }, { str: k });
        if (i > 0) stack.push({ lit: ',' });
      }
    }
  }
  return out.result();
}

/** Text from input (a field name) on one line and cut to SHOW_MAX characters, unquoted. */
export function clip(s: string): string {
  const out = new Clipped(SHOW_MAX);
  addText(out, s, false);
  return out.result();
}
