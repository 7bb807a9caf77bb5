/**
 * The log reader: JSON Lines in, validated records out, one line at a time (docs/log-format.md).
 *
 * Validation is strict: invalid UTF-8 or JSON, a record nested too deep, an unknown op or field,
 * a wrong type, a missing field, a u64 out of range or a seq that does not increase is an
 * InputError naming file, line and field; every input value it echoes goes through showValue.
 * The reader holds no more than one line; callers stream (see streamLog in src/cli/io.ts, which
 * splits the bytes with src/log/lines.ts).
 */
import { PROPERTY_NAMES, type PropertyName } from '../vocab/properties.js';
import { fail, showValue, type Where } from '../vocab/errors.js';
import { ERRNOS } from '../vocab/errno.js';
import { compareReleases, isRelease, LATEST_RELEASE, RELEASES, SVA_OPS, SVA_SINCE } from '../vocab/releases.js';
import {
  COMMON_FIELDS,
  ON_ERROR,
  STIMULUS_SCHEMA,
  type BarSpec,
  type Derived,
  type Expect,
  type FieldKind,
  type Header,
  type JsonValue,
  type Prot,
  type ResvSpec,
  type Stimulus,
  type StimulusOp,
} from '../vocab/records.js';
import { checkShape, own } from './json.js';
import { hex, parseU64 } from './u64.js';

export type LogItem =
  | { readonly kind: 'header'; readonly header: Header; readonly line: number }
  | { readonly kind: 'stimulus'; readonly stimulus: Stimulus }
  | { readonly kind: 'derived'; readonly derived: Derived; readonly line: number };

/** Reads one log; feed it lines in order with `push`. */
export class LogReader {
  private lineNo = 0;
  private header: Header | null = null;
  private lastSeq = 0;
  private lastStimulusSeq: number | null = null;

  /** Fatal: invalid UTF-8 is an error, not U+FFFD (two different device names would become one). */
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

  constructor(readonly file: string) {}

  /** Decodes the next line's bytes (UTF-8) and validates it as `push` does. */
  pushBytes(bytes: Uint8Array): LogItem | null {
    let text: string;
    try {
      text = this.utf8.decode(bytes);
    } catch {
      fail({ file: this.file, line: this.lineNo + 1 }, null, 'not valid UTF-8');
    }
    return this.push(text);
  }

  /**
   * Validates the next line; returns null for a blank line. A UTF-8 byte order mark opening the
   * first line is dropped (as JSON Lines readers do); a "\r" before the "\n" is JSON whitespace.
   */
  push(text: string): LogItem | null {
    this.lineNo += 1;
    const where: Where = { file: this.file, line: this.lineNo };
    const line = this.lineNo === 1 && text.startsWith('\ufeff') ? text.slice(1) : text;
    if (line.trim() === '') return null;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (e) {
      // Any failure of JSON.parse (a RangeError too) is the line's fault.
      fail(where, null, `not valid JSON (${e instanceof Error ? e.message : showValue(e)})`);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(where, null, 'a record must be a JSON object');
    checkShape(raw, where);
    const rec = raw as Record<string, unknown>;
    if (this.header === null) {
      this.header = parseHeader(rec, where);
      return { kind: 'header', header: this.header, line: this.lineNo };
    }
    if (Object.hasOwn(rec, 'format')) fail(where, 'format', 'a second header; the header must be the first record only');
    if (Object.hasOwn(rec, 'cause')) return { kind: 'derived', derived: this.parseDerived(rec, where), line: this.lineNo };
    const stimulus = parseStimulus(rec, where);
    const kernel = this.header.kernel;
    if (kernel !== undefined && compareReleases(kernel, SVA_SINCE) < 0 && SVA_OPS.includes(stimulus.op)) {
      fail(where, 'op', `'${stimulus.op}' needs kernel ${SVA_SINCE} or later: the model mirrors SVA from v${SVA_SINCE} (the SVA domain), and the header says "kernel":"${kernel}"`);
    }
    if (stimulus.seq <= this.lastSeq) {
      fail(where, 'seq', `seq ${stimulus.seq} does not increase (previous record was ${this.lastSeq})`);
    }
    this.lastSeq = stimulus.seq;
    this.lastStimulusSeq = stimulus.seq;
    return { kind: 'stimulus', stimulus };
  }

  /** Call after the last line: a log needs at least its header. */
  finish(): Header {
    if (this.header === null) fail({ file: this.file, line: Math.max(this.lineNo, 1) }, 'format', 'empty log: the first record must be the header {"format":"iommu-model/1"}');
    return this.header;
  }

  private parseDerived(rec: Record<string, unknown>, where: Where): Derived {
    const cause = own(rec, 'cause');
    if (typeof cause !== 'number' || !Number.isSafeInteger(cause) || cause <= 0) fail(where, 'cause', 'must be a positive integer (the seq of the stimulus)');
    if (this.lastStimulusSeq !== cause) {
      fail(where, 'cause', `derived record names cause ${cause} but follows record ${this.lastStimulusSeq ?? 'none'}; derived records follow the stimulus that caused them`);
    }
    if (typeof own(rec, 'op') !== 'string') fail(where, 'op', 'a derived record needs an op');
    const id = own(rec, 'id');
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) fail(where, 'id', 'must be a positive integer');
    const via = own(rec, 'via');
    if (via !== undefined && (typeof via !== 'number' || !Number.isSafeInteger(via) || via <= 0)) fail(where, 'via', 'must be a positive integer (the id of the derived record it follows from)');
    return rec as unknown as Derived;
  }
}

/** Parses a whole log held in memory (tests, small fixtures). */
export function parseLog(text: string, file = '<log>'): { header: Header; items: LogItem[] } {
  const reader = new LogReader(file);
  const items: LogItem[] = [];
  for (const line of text.split('\n')) {
    const item = reader.push(line);
    if (item !== null && item.kind !== 'header') items.push(item);
  }
  return { header: reader.finish(), items };
}

function parseHeader(rec: Record<string, unknown>, where: Where): Header {
  if (!Object.hasOwn(rec, 'format')) fail(where, 'format', 'the first record must be the header {"format":"iommu-model/1"}');
  if (rec['format'] !== 'iommu-model/1') fail(where, 'format', `unsupported format ${showValue(rec['format'])}; this tool reads "iommu-model/1"`);
  for (const k of Object.keys(rec)) {
    if (k !== 'format' && k !== 'scheme' && k !== 'kernel' && k !== 'description' && k !== 'violations' && k !== 'exercises') fail(where, k, 'unknown header field');
  }
  const scheme = own(rec, 'scheme') === undefined ? 'upstream' : own(rec, 'scheme');
  if (typeof scheme !== 'string') fail(where, 'scheme', 'must be a string (absent: upstream)');
  const kernel = own(rec, 'kernel');
  if (kernel !== undefined && (typeof kernel !== 'string' || !isRelease(kernel))) {
    fail(where, 'kernel', `unknown kernel release ${showValue(kernel)}; the model knows ${RELEASES.join(', ')} (absent: ${LATEST_RELEASE})`);
  }
  const description = own(rec, 'description');
  if (description !== undefined && typeof description !== 'string') fail(where, 'description', 'must be a string');
  const violations = own(rec, 'violations');
  if (violations !== undefined && (!Array.isArray(violations) || violations.some((v) => typeof v !== 'string'))) fail(where, 'violations', 'must be an array of property names');
  const exercises = own(rec, 'exercises');
  if (exercises !== undefined) {
    if (!Array.isArray(exercises)) fail(where, 'exercises', 'must be an array of property names');
    exercises.forEach((p: unknown, i) => {
      if (typeof p !== 'string' || !(PROPERTY_NAMES as readonly string[]).includes(p)) {
        fail(where, `exercises[${i}]`, `${showValue(p)} is not a property (${PROPERTY_NAMES.join(', ')})`);
      }
    });
  }
  return {
    format: 'iommu-model/1',
    scheme,
    ...(kernel === undefined ? {} : { kernel }),
    ...(description === undefined ? {} : { description }),
    ...(violations === undefined ? {} : { violations: violations as string[] }),
    ...(exercises === undefined ? {} : { exercises: exercises as PropertyName[] }),
  };
}

function isOp(op: string): op is StimulusOp {
  return Object.prototype.hasOwnProperty.call(STIMULUS_SCHEMA, op);
}

function parseStimulus(rec: Record<string, unknown>, where: Where): Stimulus {
  const op = own(rec, 'op');
  if (op === undefined) fail(where, 'op', 'missing');
  if (typeof op !== 'string') fail(where, 'op', 'must be a string');
  if (!isOp(op)) fail(where, 'op', `unknown op ${showValue(op)}`);
  const schema = STIMULUS_SCHEMA[op] as Readonly<Record<string, { kind: FieldKind; optional?: true }>>;
  const out: Record<string, unknown> = { op, line: where.line };
  for (const [k, v] of Object.entries(rec)) {
    if ((COMMON_FIELDS as readonly string[]).includes(k)) continue;
    const spec = Object.hasOwn(schema, k) ? schema[k] : undefined;
    if (spec === undefined) fail(where, k, `unknown field for op '${op}'`);
    out[k] = parseField(spec.kind, v, where, k);
  }
  for (const [k, spec] of Object.entries(schema)) {
    if (!spec.optional && !Object.hasOwn(rec, k)) fail(where, k, `missing (op '${op}' needs it)`);
  }
  const seq = own(rec, 'seq');
  if (seq === undefined) out['seq'] = where.line;
  else if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq <= 0) fail(where, 'seq', 'must be a positive integer');
  else out['seq'] = seq;
  if (Object.hasOwn(rec, 'expect')) out['expect'] = parseExpect(rec['expect'], where);
  if (Object.hasOwn(rec, 'task')) {
    if (typeof rec['task'] !== 'string' || rec['task'] === '') fail(where, 'task', 'must be a non-empty string');
    out['task'] = rec['task'];
  }
  if (Object.hasOwn(rec, 'on_error')) {
    const v = rec['on_error'];
    if (typeof v !== 'string' || !(ON_ERROR as readonly string[]).includes(v)) fail(where, 'on_error', `expected one of ${ON_ERROR.map((x) => `"${x}"`).join(', ')}, got ${showValue(v)}`);
    if (op === 'step') fail(where, 'on_error', 'a step record runs a step of its task; on_error belongs on the stimulus');
    out['on_error'] = v;
  }
  if (Object.hasOwn(rec, 'comment')) {
    if (typeof rec['comment'] !== 'string') fail(where, 'comment', 'must be a string');
    out['comment'] = rec['comment'];
  }
  return out as unknown as Stimulus;
}

function parseInt(v: unknown, where: Where, field: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(where, field, `expected a non-negative integer, got ${showValue(v)}`);
  return v;
}

export function parseProt(v: unknown, where: Where, field: string): Prot {
  if (!Array.isArray(v)) fail(where, field, 'expected an array of "READ"/"WRITE"');
  let read = false;
  let write = false;
  for (const f of v) {
    if (f === 'READ') read = true;
    else if (f === 'WRITE') write = true;
    else fail(where, field, `unknown protection ${showValue(f)} (READ, WRITE)`);
  }
  return { read, write };
}

function parseField(kind: FieldKind, v: unknown, where: Where, field: string): unknown {
  switch (kind) {
    case 'u64':
      return parseU64(v, where, field);
    case 'int':
      return parseInt(v, where, field);
    case 'string':
      if (typeof v !== 'string') fail(where, field, `expected a string, got ${showValue(v)}`);
      return v;
    case 'bool':
      if (typeof v !== 'boolean') fail(where, field, `expected true or false, got ${showValue(v)}`);
      return v;
    case 'prot':
      return parseProt(v, where, field);
    case 'any':
      return v;
    case 'range': {
      if (!Array.isArray(v) || v.length !== 2) fail(where, field, 'expected [start, end]');
      const start = parseU64(v[0], where, `${field}[0]`);
      const end = parseU64(v[1], where, `${field}[1]`);
      if (end < start) fail(where, field, 'end is below start');
      return [start, end] as const;
    }
    case 'bars': {
      // A BAR as PCI enumeration finds it (drivers/pci/probe.c __pci_read_base): its size is
      // the lowest set bit of the decoded address mask (pci_size: `size & ~(size-1)`), so a
      // power of two; the bits below it read as zero, so the BAR is aligned to its size, and
      // so it ends at or below 2^64.
      if (!Array.isArray(v)) fail(where, field, 'expected an array of {index, phys, size}');
      const seen = new Set<number>();
      return v.map((b: unknown, i): BarSpec => {
        const f = `${field}[${i}]`;
        if (typeof b !== 'object' || b === null) fail(where, f, 'expected {index, phys, size}');
        const o = b as Record<string, unknown>;
        for (const k of Object.keys(o)) if (!['index', 'phys', 'size'].includes(k)) fail(where, `${f}.${k}`, 'unknown field');
        const index = parseInt(own(o, 'index'), where, `${f}.index`);
        if (index > 5) fail(where, `${f}.index`, 'a PCI device has BARs 0 to 5');
        if (seen.has(index)) fail(where, `${f}.index`, `BAR ${index} is declared twice`);
        seen.add(index);
        const phys = parseU64(own(o, 'phys'), where, `${f}.phys`);
        const size = parseU64(own(o, 'size'), where, `${f}.size`);
        if (size === 0n || (size & (size - 1n)) !== 0n) fail(where, `${f}.size`, `${hex(size)} is not a power of two (a PCI BAR's size is the lowest set bit of its address mask: drivers/pci/probe.c pci_size)`);
        if ((phys & (size - 1n)) !== 0n) fail(where, `${f}.phys`, `${hex(phys)} is not aligned to the BAR's size ${hex(size)} (its address bits below the size read as zero)`);
        return { index, phys, size };
      });
    }
    case 'resv': {
      if (!Array.isArray(v)) fail(where, field, 'expected an array of {start, end, type}');
      return v.map((r: unknown, i): ResvSpec => {
        const f = `${field}[${i}]`;
        if (typeof r !== 'object' || r === null) fail(where, f, 'expected {start, end, type}');
        const o = r as Record<string, unknown>;
        for (const k of Object.keys(o)) if (!['start', 'end', 'type'].includes(k)) fail(where, `${f}.${k}`, 'unknown field');
        const type = own(o, 'type');
        if (type !== 'msi' && type !== 'sw_msi' && type !== 'reserved' && type !== 'direct') fail(where, `${f}.type`, 'one of msi, sw_msi, reserved, direct');
        const start = parseU64(own(o, 'start'), where, `${f}.start`);
        const end = parseU64(own(o, 'end'), where, `${f}.end`);
        if (end < start) fail(where, f, 'end is below start');
        return { start, end, type };
      });
    }
  }
}

function parseExpect(v: unknown, where: Where): Expect {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(where, 'expect', 'expected an object');
  const o = v as Record<string, unknown>;
  const e: { ret?: bigint; errno?: string; out?: Record<string, unknown>; dma?: 'ok' | 'fault'; signal?: 'SIGBUS' | 'SIGSEGV' } = {};
  for (const [k, x] of Object.entries(o)) {
    switch (k) {
      case 'ret':
        e.ret = parseU64(x, where, 'expect.ret');
        break;
      case 'errno':
        if (typeof x !== 'string' || !ERRNOS.has(x)) fail(where, 'expect.errno', `unknown errno ${showValue(x)}`);
        e.errno = x;
        break;
      case 'out':
        if (typeof x !== 'object' || x === null || Array.isArray(x)) fail(where, 'expect.out', 'expected an object');
        e.out = x as Record<string, JsonValue>;
        break;
      case 'dma':
        if (x !== 'ok' && x !== 'fault') fail(where, 'expect.dma', 'one of "ok", "fault"');
        e.dma = x;
        break;
      case 'signal':
        if (x !== 'SIGBUS' && x !== 'SIGSEGV') fail(where, 'expect.signal', 'one of "SIGBUS", "SIGSEGV"');
        e.signal = x;
        break;
      default:
        fail(where, `expect.${k}`, 'unknown expectation (ret, errno, out, dma, signal)');
    }
  }
  if (e.ret !== undefined && e.errno !== undefined) fail(where, 'expect', 'ret and errno exclude each other');
  return e;
}
