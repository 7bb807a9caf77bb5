/**
 * A lockdep report read from text: the four kinds kernel/locking/lockdep.c prints, as dmesg,
 * journalctl, syslog or a quoted mail carries them. Pure: text in, data out; a text with no
 * lockdep report in it is bad input (InputError naming the file).
 *
 * What each kind prints (kernel/locking/lockdep.c):
 * - print_circular_bug_header: "WARNING: possible circular locking dependency detected", then
 *   "<comm>/<pid> is trying to acquire lock:" (print_lock of the new lock, `next`), "but task is
 *   already holding lock:" (print_lock of `prev`), "the existing dependency chain (in reverse
 *   order) is:", then print_circular_bug_entry per lock_list entry from the target back to the
 *   root: "-> #N" + print_lock_name + ":" and the stack where that dependency was recorded.
 *   Entry #k's lock was taken while holding #k-1's (check_noncircular's BFS runs forward from
 *   `next`, so #0 is `next` and its stack is the current one, taken while holding `prev`, the
 *   highest #N). The cycle is #0 -> #1 -> ... -> #N -> #0.
 * - print_deadlock_bug: "WARNING: possible recursive locking detected", the same two locks, one
 *   class.
 * - print_usage_bug: "WARNING: inconsistent lock state", "inconsistent {A} -> {B} usage.",
 *   "<comm>/<pid> [HC..] takes:" and the lock.
 * - print_freed_lock_bug (from debug_check_no_locks_freed): "WARNING: held lock freed!" (before
 *   v4.15 "[ BUG: held lock freed! ]"), "<comm>/<pid> is freeing memory A-B, with a lock still
 *   held there!" and the lock.
 * Every kind ends with lockdep_print_held_locks: "N locks held by <comm>/<pid>:" and " #i: "
 * print_lock lines. print_lock is `<instance> (<name>){<usage>}-{<outer>:<inner>}, at: <ip>`
 * (the `-{..}` wait types since v5.7; before v4.15 `[<ip>] fn`); __print_lock_name writes the
 * class name, `#<name_version>` when several classes share the name and `/<subclass>`.
 */
import { InputError, showValue } from '../vocab/errors.js';

export type ReportKind = 'circular' | 'recursive' | 'inconsistent' | 'freed';

/** One lock as print_lock / print_lock_name printed it. */
export interface LockRef {
  /** As printed: `&mm->mmap_lock#2`, `&type->s_umount_key#42/1`. */
  readonly printed: string;
  /** The class's name without `#<version>` and `/<subclass>`: what lockdep_set_class/mutex_init named. */
  readonly name: string;
  /** `#N`: the Nth class of that name (count_matching_names). */
  readonly version?: number;
  readonly subclass?: number;
  /** The usage characters between the braces (get_usage_chars). */
  readonly usage?: string;
  /** `outer:inner` wait types (v5.7 and later). */
  readonly wait?: string;
  /** The function the lock was taken at (`, at:`), when printed. */
  readonly at?: string;
  /** The report's line (1-based) it was read from. */
  readonly line: number;
}

/** One `-> #N` entry of a circular report's chain. */
export interface ChainEntry {
  readonly index: number;
  readonly lock: LockRef;
  /** The stack's first functions, lockdep's own and the lock primitives left out. */
  readonly stack: readonly string[];
}

export interface LockdepReport {
  readonly kind: ReportKind;
  /** The WARNING line's text. */
  readonly title: string;
  /** print_kernel_ident's release, when present. */
  readonly kernel?: string;
  readonly task: { readonly comm: string; readonly pid: number };
  /** The lock the task was acquiring (circular, recursive), taking (inconsistent) or freeing (freed). */
  readonly lock: LockRef;
  /** The lock the task already held (circular, recursive). */
  readonly holding?: LockRef;
  /** Circular: the chain entries, #0 first. */
  readonly chain: readonly ChainEntry[];
  /**
   * Circular: the classes of the cycle as printed (`&mm->mmap_lock#2` is another class than
   * `&mm->mmap_lock`), in dependency order: #0, #1, ..., #N, each taken holding the one before,
   * #0 holding #N.
   */
  readonly cycle: readonly string[];
  /** lockdep_print_held_locks, outermost first (a lock printed once per `at:` line is listed once). */
  readonly held: readonly LockRef[];
  /** inconsistent: `{A} -> {B}`; freed: the memory range. */
  readonly detail?: string;
  /** The line of the WARNING. */
  readonly line: number;
}

const TITLES: ReadonlyArray<readonly [RegExp, ReportKind]> = [
  [/possible circular locking dependency detected/, 'circular'],
  [/possible recursive locking detected/, 'recursive'],
  [/inconsistent lock state/, 'inconsistent'],
  [/held lock freed!?/, 'freed'],
];

/**
 * What a log puts before the kernel's text, removed one layer at a time: mail quoting (`> `),
 * syslog's `Mon DD HH:MM:SS host kernel: ` and RFC 3339 `2016-03-26T20:52:22.526357+00:00 host
 * kernel: `, journalctl's `kernel: `, the console level `<4>`, the printk time `[  123.456789]`,
 * `dmesg -H`'s `[  +0.000732]` and CONFIG_PRINTK_CALLER's `[T3614103]` / `[C3]`.
 */
const PREFIXES: readonly RegExp[] = [
  /^>[ >]*/,
  /^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ (?:kernel: )?/,
  /^\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:\d\d)? \S+ (?:kernel: )?/,
  /^kernel: /,
  /^<\d>/,
  /^\[\s*\+?\d+\.\d+\]/,
  /^\[\s*[TC]\d+\]/,
];

/** A line without its log prefixes and surrounding space. */
export function stripPrefix(raw: string): string {
  let s = raw.replace(/\r$/, '');
  for (let changed = true; changed; ) {
    changed = false;
    for (const p of PREFIXES) {
      const m = p.exec(s);
      if (m !== null && m[0].length > 0) {
        s = s.slice(m[0].length);
        changed = true;
      }
    }
    const t = s.trimStart();
    if (t !== s) {
      s = t;
      changed = true;
    }
  }
  return s.trimEnd();
}

/** `(name){usage}-{o:i}` as print_lock_name prints it; the name may itself hold parentheses. */
const LOCK_NAME = /\((.+?)\)\{([-+?.]*)\}(?:-\{(\d+:\d+)\})?/;
/** print_lock: an optional instance address (`(ptrval)` on 4.15-4.19), the name, `, at:` and where. */
const LOCK_LINE = new RegExp(`^(?:(?:[0-9a-f]{8,16}|\\(ptrval\\))\\s+)?${LOCK_NAME.source}(?:,\\s*at:\\s*(.*))?$`);
const CHAIN_ENTRY = new RegExp(`^-> #(\\d+) ${LOCK_NAME.source}:?$`);
const HELD_HEADER = /^(\d+) locks? held by (.+)\/(\d+):$/;
const HELD_NONE = /^no locks held by (.+)\/(\d+)\.$/;
const HELD_LINE = /^#(\d+):\s+(.*)$/;

/** A stack frame's function: `fn+0x1c/0x30 [mod]`, `[<c01039df>] fn+0x54/0xfd`, `fn file.c:12 [inline]`. */
function frameFunction(line: string): string | null {
  const s = line.replace(/^\[<[0-9a-f]+>\]\s*/, '').replace(/^\?\s+/, '');
  const m = /^([A-Za-z_.$][\w.$]*)(?:\+0x[0-9a-f]+\/0x[0-9a-f]+|\s+\S+:\d+)/.exec(s);
  return m === null ? null : m[1]!;
}

/** lockdep's own frames and the lock primitives: not where the lock was taken. */
const NOT_THE_CALLER = /^(?:__)?lock_acquire|^lock_release|^check_prev_add|^validate_chain|^check_noncircular|^print_circular_bug|^__lock_acquire|^__?mutex_(?:un)?lock|^mutex_lock|^(?:__)?down_(?:read|write)|^_raw_|^__raw_|^lock_is_held|^rwsem_|^lock_sock|^__ww_mutex|^ww_mutex|^percpu_down|^__might_fault$|^dump_stack|^__dump_stack/;

/** How many of a chain entry's stack functions a report keeps. */
const STACK_TOP = 4;

/** The class name, version and subclass of a printed lock name. */
function splitName(printed: string): { name: string; version?: number; subclass?: number } {
  const m = /^(.*?)(?:#(\d+))?(?:\/(\d+))?$/.exec(printed)!;
  return { name: m[1]!, ...(m[2] === undefined ? {} : { version: Number(m[2]) }), ...(m[3] === undefined ? {} : { subclass: Number(m[3]) }) };
}

/** A LockRef from LOCK_NAME's groups (name, usage, wait) and the `at:` text. */
function lockRef(g: readonly (string | undefined)[], line: number, at?: string): LockRef {
  const printed = g[0]!;
  const where = at === undefined ? undefined : frameFunction(at.trim()) ?? at.trim().split(/\s+/)[0];
  return { printed, ...splitName(printed), usage: g[1]!, ...(g[2] === undefined ? {} : { wait: g[2] }), ...(where === undefined || where === '' ? {} : { at: where }), line };
}

interface Line {
  readonly text: string;
  readonly n: number;
}

/**
 * Joins a print_lock line a mail client or terminal wrapped after `at:` (or inside the name) with
 * the line that continues it.
 */
function joined(lines: readonly Line[]): Line[] {
  const out: Line[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    let l = lines[i]!;
    while (/(?:,\s*at:|\(\S*\)\{[-+?.]*\}(?:-\{\d+:\d+\})?,)$/.test(l.text) && i + 1 < lines.length && lines[i + 1]!.text !== '') {
      l = { text: `${l.text} ${lines[i + 1]!.text}`, n: l.n };
      i += 1;
    }
    out.push(l);
  }
  return out;
}

function lockAt(lines: readonly Line[], i: number): LockRef | null {
  const l = lines[i];
  if (l === undefined) return null;
  const m = LOCK_LINE.exec(l.text);
  return m === null ? null : lockRef(m.slice(1, 4), l.n, m[4]);
}

/** The first print_lock line after `from` (before the next blank line or header), and its index. */
function nextLock(lines: readonly Line[], from: number): { lock: LockRef; at: number } | null {
  for (let i = from; i < lines.length && i < from + 4; i += 1) {
    const lock = lockAt(lines, i);
    if (lock !== null) return { lock, at: i };
  }
  return null;
}

/**
 * Reads the first lockdep report in `text`. `file` names the input in errors; a text without a
 * report of one of the four kinds, or one whose report lacks the lines its kind always prints,
 * is bad input.
 */
export function parseLockdep(text: string, file: string): LockdepReport {
  const lines = joined(text.split('\n').map((raw, i) => ({ text: stripPrefix(raw), n: i + 1 })));
  let start = -1;
  let kind: ReportKind | null = null;
  for (let i = 0; i < lines.length && kind === null; i += 1) {
    for (const [re, k] of TITLES) {
      if (re.test(lines[i]!.text)) {
        start = i;
        kind = k;
        break;
      }
    }
  }
  if (kind === null) {
    throw new InputError(file, null, null, 'not a lockdep report: no "possible circular locking dependency", "possible recursive locking", "inconsistent lock state" or "held lock freed" line');
  }
  const title = lines[start]!.text.replace(/^\[ ?(?:BUG|INFO): /, '').replace(/ ?\]$/, '').replace(/^WARNING: /, '');
  const kernel = /^(\d+\.\d+\S*)/.exec(lines[start + 1]?.text ?? '')?.[1];
  const bad = (i: number, field: string, detail: string): never => {
    throw new InputError(file, lines[i]?.n ?? lines[start]!.n, field, detail);
  };
  // The task line: what the kind prints after the dashes.
  const taskLine = /^(.+)\/(\d+)(?: \[\S*\])? (is trying to acquire(?: lock)?|takes|is freeing memory (\S+),)/;
  let ti = start + 1;
  while (ti < lines.length && ti < start + 6 && taskLine.exec(lines[ti]!.text) === null) ti += 1;
  const tm = ti < lines.length ? taskLine.exec(lines[ti]!.text) : null;
  if (tm === null) return bad(start + 1, 'task', `the ${kind} report should name its task ("<comm>/<pid> is trying to acquire lock:", "takes:" or "is freeing memory"); none follows the WARNING line`);
  const task = { comm: tm[1]!, pid: Number(tm[2]) };
  const first = nextLock(lines, ti + 1);
  if (first === null) return bad(ti + 1, 'lock', `expected the lock as print_lock prints it, "(name){usage}, at: ...", after ${showValue(lines[ti]!.text)}`);
  let holding: LockRef | undefined;
  let at = first.at + 1;
  if (kind === 'circular' || kind === 'recursive') {
    let hi = at;
    while (hi < lines.length && !/^but task is already holding lock:$/.test(lines[hi]!.text)) hi += 1;
    const h = hi < lines.length ? nextLock(lines, hi + 1) : null;
    if (h === null) return bad(at, 'holding', '"but task is already holding lock:" and the lock are missing');
    holding = h.lock;
    at = h.at + 1;
  }
  const chain: ChainEntry[] = [];
  let i = at;
  for (; i < lines.length; i += 1) {
    const t = lines[i]!.text;
    if (HELD_HEADER.test(t) || HELD_NONE.test(t) || /^stack backtrace:$/.test(t) || (i > at && TITLES.some(([re]) => re.test(t)))) break;
    const m = CHAIN_ENTRY.exec(t);
    if (m === null) continue;
    const lock = lockRef(m.slice(2, 5), lines[i]!.n);
    const stack: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !CHAIN_ENTRY.test(lines[j]!.text) && !/^other info that might help/.test(lines[j]!.text); j += 1) {
      const fn = frameFunction(lines[j]!.text);
      if (fn !== null && !NOT_THE_CALLER.test(fn) && stack.length < STACK_TOP) stack.push(fn);
    }
    chain.push({ index: Number(m[1]), lock, stack });
    i = j - 1;
  }
  chain.sort((a, b) => a.index - b.index);
  if (kind === 'circular') {
    if (chain.length < 2) return bad(at, 'chain', 'a circular report has "the existing dependency chain (in reverse order) is:" and at least the entries -> #1 and -> #0');
    chain.forEach((e, k) => {
      if (e.index !== k) bad(at, 'chain', `the chain's entries are -> #${chain.map((c) => c.index).join(', -> #')}: entry -> #${k} is missing`);
    });
  }
  const held: LockRef[] = [];
  for (; i < lines.length; i += 1) {
    const t = lines[i]!.text;
    if (HELD_NONE.test(t)) break;
    if (!HELD_HEADER.test(t)) continue;
    let last = -1;
    for (let j = i + 1; j < lines.length; j += 1) {
      const hm = HELD_LINE.exec(lines[j]!.text);
      if (hm === null) break;
      const lm = LOCK_LINE.exec(hm[2]!);
      if (lm === null) continue;
      // syzbot prints an inlined acquisition's `at:` once per inline frame, with the same #i
      if (Number(hm[1]) === last) continue;
      last = Number(hm[1]);
      held.push(lockRef(lm.slice(1, 4), lines[j]!.n, lm[4]));
    }
    break;
  }
  const detail = kind === 'inconsistent' ? /^inconsistent (\{.*\} -> \{.*\}) usage\.$/.exec(lines.slice(start, ti).map((l) => l.text).find((t) => t.startsWith('inconsistent')) ?? '')?.[1] : kind === 'freed' ? tm[4] : undefined;
  return {
    kind,
    title,
    ...(kernel === undefined ? {} : { kernel }),
    task,
    lock: first.lock,
    ...(holding === undefined ? {} : { holding }),
    chain,
    cycle: chain.map((e) => e.lock.printed),
    held,
    ...(detail === undefined ? {} : { detail }),
    line: lines[start]!.n,
  };
}
