/**
 * Questions to a timeline (docs/navigation.md): what changed between two records (`diff`), one
 * object's lifecycle (`follow`), and which records and state touch an IOVA, a vaddr, a PASID, a
 * device or a lock (`grep`). Pure: a Timeline in, plain data out; bad arguments are InputError
 * naming `flag` (the CLI's flag or inspect's command).
 */
import type { Patch } from 'immer';
import { InputError, showValue } from '../vocab/errors.js';
import type { Derived, JsonValue } from '../vocab/records.js';
import { u64Text } from '../log/u64.js';
import { lockdepName } from '../vocab/locks.js';
import type { Timeline, TimelineRecord, View } from './timeline.js';
import { kindOf, type ObjectView } from './timeline/objects.js';
import { sameJson } from './timeline/json.js';

export interface FieldChange {
  readonly field: string;
  /** undefined: the field was absent. */
  readonly from?: JsonValue;
  readonly to?: JsonValue;
}

export interface ObjectChange {
  readonly id: string;
  readonly change: 'created' | 'removed' | 'changed';
  /** created: every field with its value (as `to`); removed: every field (as `from`). */
  readonly fields: readonly FieldChange[];
}

const where = '<command line>';

/** The position after record `seq`, or bad input naming `flag`. */
export function positionOfSeq(t: Timeline, seq: number, flag: string): number {
  const p = t.positionOf(seq);
  if (p === undefined) {
    const last = t.records[t.records.length - 1]?.seq ?? 0;
    throw new InputError(where, null, flag, `no record with seq ${seq} (the log's records are ${t.records[0]?.seq ?? 0}..${last})`);
  }
  return p;
}

/** A seq as the user wrote it: a positive integer, or bad input naming `flag`. */
export function parseSeqArg(v: string, flag: string): number {
  if (!/^[1-9][0-9]*$/.test(v)) throw new InputError(where, null, flag, `expected a positive record number, got ${showValue(v)}`);
  return Number(v);
}

function fieldsOf(v: ObjectView, side: 'from' | 'to'): FieldChange[] {
  return Object.keys(v).map((f) => ({ field: f, [side]: v[f]! }) as FieldChange);
}

/** Object by object, what differs between two views (ids in sorted order). */
export function diffViews(a: View, b: View): ObjectChange[] {
  const out: ObjectChange[] = [];
  const ids = new Set([...a.objects.keys(), ...b.objects.keys()]);
  for (const id of [...ids].sort()) {
    const x = a.objects.get(id);
    const y = b.objects.get(id);
    if (x === y) continue; // structural sharing: the same object is unchanged
    if (x === undefined) out.push({ id, change: 'created', fields: fieldsOf(y!, 'to') });
    else if (y === undefined) out.push({ id, change: 'removed', fields: fieldsOf(x, 'from') });
    else {
      const fields: FieldChange[] = [];
      for (const f of new Set([...Object.keys(x), ...Object.keys(y)])) {
        const u = x[f];
        const v = y[f];
        if (u !== undefined && v !== undefined && sameJson(u, v)) continue;
        fields.push({ field: f, ...(u === undefined ? {} : { from: u }), ...(v === undefined ? {} : { to: v }) });
      }
      if (fields.length > 0) out.push({ id, change: 'changed', fields });
    }
  }
  return out;
}

/** The changes between the states after records `a` and `b`. */
export function diffRecords(t: Timeline, a: number, b: number, flag = '--diff'): ObjectChange[] {
  return diffViews(t.at(positionOfSeq(t, a, flag)), t.at(positionOfSeq(t, b, flag)));
}

export interface Transition {
  readonly seq: number;
  readonly op: string;
  readonly line: number;
  readonly step?: string;
  readonly change: ObjectChange;
}

/** The ids users may write for an object, as the derived records spell them. */
export function canonicalId(id: string): string {
  if (id.startsWith('bar_mapping:')) return `vma:${id.slice('bar_mapping:'.length)}`;
  if (id.startsWith('bond:')) return `sva_bond:${id.slice('bond:'.length)}`;
  return id;
}

function recordOf(r: TimelineRecord): { seq: number; op: string; line: number; step?: string } {
  return { seq: r.seq, op: r.op, line: r.line, ...(r.step === undefined ? {} : { step: r.step }) };
}

/** One object's lifecycle: a transition per record that changed it, from the patches. */
export function follow(t: Timeline, object: string, flag = '--follow'): Transition[] {
  const id = canonicalId(object);
  const out: Transition[] = [];
  for (let i = 0; i < t.length; i += 1) {
    const { forward, inverse } = t.patchesOf(i);
    const mine = forward.filter((p) => p.path[1] === id);
    if (mine.length === 0) continue;
    const old = new Map<string, Patch>();
    for (const p of inverse) if (p.path[1] === id) old.set(p.path.slice(2).join('/'), p);
    const r = t.records[i]!;
    const whole = mine.find((p) => p.path.length === 2);
    if (whole !== undefined) {
      const created = whole.op === 'add';
      const v = (created ? whole.value : old.get('')?.value) as ObjectView | undefined;
      out.push({ ...recordOf(r), change: { id, change: created ? 'created' : 'removed', fields: v === undefined ? [] : fieldsOf(v, created ? 'to' : 'from') } });
      continue;
    }
    const fields: FieldChange[] = mine.map((p) => {
      const f = String(p.path[2]);
      const before = old.get(p.path.slice(2).join('/'));
      const from = before === undefined || before.op === 'remove' ? undefined : (before.value as JsonValue);
      return { field: f, ...(from === undefined ? {} : { from }), ...(p.op === 'remove' ? {} : { to: p.value as JsonValue }) };
    });
    out.push({ ...recordOf(r), change: { id, change: 'changed', fields } });
  }
  if (out.length === 0) throw new InputError(where, null, flag, `no record changed ${showValue(object)} (ids as the derived records name them: device:0000:01:00.0, group:1, container:5, vfio_dma:5@0x400000, vma:1@0x7f0000000000, lock:memory_lock#0000:01:00.0, ...)`);
  return out;
}

/** A `--grep` query: `<key>=<value>`, and `@<seq>` for the state at that record instead of the records. */
export interface Query {
  readonly key: 'iova' | 'vaddr' | 'pasid' | 'device' | 'lock';
  readonly text: string;
  readonly addr?: bigint;
  readonly at?: number;
}

const KEYS = ['iova', 'vaddr', 'pasid', 'device', 'lock'] as const;

export function parseQuery(q: string, flag = '--grep'): Query {
  const m = /^([a-z]+)=([^@\s]+)(?:@([0-9]+))?$/.exec(q);
  const bad = (why: string): never => {
    throw new InputError(where, null, flag, `${why}, got ${showValue(q)} (e.g. iova=0xc0000, vaddr=0x7f0000000000, pasid=3, device=0000:01:00.0, lock=memory_lock@812)`);
  };
  if (m === null) return bad('expected <key>=<value>[@<seq>]');
  const key = m[1] as Query['key'];
  if (!KEYS.includes(key)) return bad(`unknown key ${showValue(m[1])} (one of ${KEYS.join(', ')})`);
  const at = m[3] === undefined ? {} : { at: parseSeqArg(m[3], flag) };
  if (key === 'iova' || key === 'vaddr' || key === 'pasid') {
    const v = u64Text(m[2]!);
    if (typeof v !== 'bigint') return bad(`${key} must be a u64 ("0x..." or decimal)`);
    return { key, text: m[2]!, addr: v, ...at };
  }
  return { key, text: m[2]!, ...at };
}

export interface GrepHit {
  readonly seq: number;
  readonly op: string;
  readonly line: number;
  readonly step?: string;
  /** What matched: `derived 11.14 iommu.unmapped`, `stimulus`, `state vfio_dma:5@0x0`, `lock:...`. */
  readonly what: string;
  /** The matching record or object, as JSON. */
  readonly value: JsonValue;
}

const PAGE = 0x1000n;
function big(v: JsonValue | undefined | unknown): bigint | null {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  const b = typeof v === 'string' ? u64Text(v) : null;
  return typeof b === 'bigint' ? b : null;
}
const within = (x: bigint, start: bigint | null, len: bigint | null): boolean => start !== null && x >= start && x < start + (len === null || len === 0n ? 1n : len);

/** The length a record's fields give its range: size, length, or pages. */
function lengthOf(r: Record<string, unknown>): bigint | null {
  const pages = big(r['npages']) ?? big(r['npage']);
  return big(r['size']) ?? big(r['length']) ?? (pages === null ? null : pages * PAGE);
}

/** Whether a derived record or a stimulus (its fields, with ioctl args) touches the query. */
function recordMatches(q: Query, r: Record<string, unknown>): boolean {
  const x = q.addr ?? 0n;
  switch (q.key) {
    case 'iova':
      return within(x, big(r['iova']), lengthOf(r)) || (typeof r['arg'] === 'object' && r['arg'] !== null && recordMatches(q, r['arg'] as Record<string, unknown>));
    case 'vaddr': {
      const start = big(r['start']);
      const end = big(r['end']);
      if (start !== null && end !== null && x >= start && x < end) return true;
      if (within(x & ~(PAGE - 1n), big(r['addr']), lengthOf(r) ?? PAGE)) return true;
      if (within(x, big(r['vaddr']), lengthOf(r))) return true;
      return typeof r['arg'] === 'object' && r['arg'] !== null && recordMatches(q, r['arg'] as Record<string, unknown>);
    }
    case 'pasid':
      return big(r['pasid']) === x;
    case 'device': {
      const t = r['target'];
      return r['device'] === q.text || r['object'] === `device:${q.text}` || r['file'] === `device:${q.text}` || (typeof t === 'string' && t.startsWith(`${q.text}/`));
    }
    case 'lock':
      return false;
  }
}

/** A lock instance id (`memory_lock#0000:01:00.0`) matches its id, its class, or lockdep's name. */
function lockMatches(q: Query, lockId: string): boolean {
  return lockId === q.text || lockId.split('#')[0] === q.text || lockdepName(lockId) === q.text;
}

/** Whether an object of the view touches the query, and through which field. */
function objectMatches(q: Query, id: string, v: ObjectView): string | null {
  const { kind } = kindOf(id);
  const x = q.addr ?? 0n;
  switch (q.key) {
    case 'iova':
      return (kind === 'vfio_dma' || kind === 'pte') && within(x, big(v['iova']), big(v['size'])) ? 'iova' : null;
    case 'vaddr':
      if (kind === 'vma' && x >= big(v['start'])! && x < big(v['end'])!) return 'start';
      return kind === 'vfio_dma' && within(x, big(v['vaddr']), big(v['size'])) ? 'vaddr' : null;
    case 'pasid': {
      if (id === `pasid:${x}`) return 'state';
      if (big(v['pasid']) === x) return 'pasid';
      const inUse = v['pasids_in_use'];
      return Array.isArray(inUse) && inUse.some((p) => big(p) === x) ? 'pasids_in_use' : null;
    }
    case 'device':
      return id === `device:${q.text}` ? 'state' : v['device'] === q.text ? 'device' : null;
    case 'lock':
      if (kind === 'lock' && lockMatches(q, kindOf(id).key)) return 'writer';
      if (kind === 'task') {
        const held = v['held'];
        return Array.isArray(held) && held.some((h) => typeof h === 'string' && lockMatches(q, h.slice(0, h.lastIndexOf(' (')))) ? 'held' : null;
      }
      return null;
  }
}

const label = (d: Derived): string => `derived ${d.cause}.${d.id} ${d.op}`;

/** The records that touch the query (no `@`), or the objects touching it in the state at `@seq`. */
export function grep(t: Timeline, q: Query, flag = '--grep'): GrepHit[] {
  const hits: GrepHit[] = [];
  if (q.at !== undefined) {
    const p = positionOfSeq(t, q.at, flag);
    const r = t.records[p - 1]!;
    const v = t.at(p);
    for (const id of [...v.objects.keys()].sort()) {
      const o = v.objects.get(id)!;
      if (objectMatches(q, id, o) !== null) hits.push({ ...recordOf(r), what: `state ${id}`, value: o as JsonValue });
    }
    return hits;
  }
  t.records.forEach((r, i) => {
    if (q.key === 'lock') {
      // the records that took or released a matching lock: its lock: object's patches
      for (const p of t.patchesOf(i).forward) {
        const id = String(p.path[1]);
        if (!id.startsWith('lock:') || !lockMatches(q, id.slice(5))) continue;
        const what = p.path.length === 2 ? (p.op === 'add' ? 'taken' : 'released') : `${String(p.path[2])} changed`;
        hits.push({ ...recordOf(r), what: `${id} ${what}`, value: p.op === 'remove' ? null : (p.value as JsonValue) });
      }
      return;
    }
    if (r.op !== 'step' && recordMatches(q, r.stimulus as unknown as Record<string, unknown>)) hits.push({ ...recordOf(r), what: 'stimulus', value: stimulusText(r) });
    for (const d of r.derived) if (recordMatches(q, d)) hits.push({ ...recordOf(r), what: label(d), value: d as unknown as JsonValue });
  });
  return hits;
}

function stimulusText(r: TimelineRecord): JsonValue {
  return JSON.parse(JSON.stringify(r.stimulus, (k, v: unknown) => (k === 'line' ? undefined : typeof v === 'bigint' ? `0x${v.toString(16)}` : v))) as JsonValue;
}
