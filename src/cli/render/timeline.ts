/**
 * The timeline's answers as text and JSON (replay --diff/--grep/--follow, inspect): one line per
 * change, transition or hit, addresses in hex as the view holds them, wrapped to 100 columns.
 */
import type { GrepHit, ObjectChange, Query, Transition } from '../../run/timeline-query.js';
import type { View } from '../../run/timeline.js';
import type { JsonValue } from '../../vocab/records.js';
import { fit } from './term.js';

const WIDTH = 100;

/** A value as a kernel engineer reads it: strings bare, lists in brackets, objects as JSON. */
export function valueText(v: JsonValue | undefined): string {
  if (v === undefined) return '(absent)';
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return `[${v.map((x) => valueText(x)).join(', ')}]`;
  if (typeof v === 'object' && v !== null) return `{${Object.entries(v).map(([k, x]) => `${k}: ${valueText(x)}`).join(', ')}}`;
  return String(v);
}

function changeLines(c: ObjectChange, indent: string): string[] {
  if (c.change === 'changed') return [`${indent}~ ${c.id}`, ...c.fields.map((f) => `${indent}    ${f.field}: ${valueText(f.from)} -> ${valueText(f.to)}`)];
  const sign = c.change === 'created' ? '+' : '-';
  return [`${indent}${sign} ${c.id} ${c.change}`, ...c.fields.map((f) => `${indent}    ${f.field}: ${valueText(c.change === 'created' ? f.to : f.from)}`)];
}

export function renderDiff(a: number, b: number, changes: readonly ObjectChange[]): string {
  const head = `changes from record ${a} to record ${b}: ${changes.length === 0 ? 'none' : `${changes.length} object${changes.length === 1 ? '' : 's'}`}`;
  return fit(`${[head, ...changes.flatMap((c) => changeLines(c, '  '))].join('\n')}\n`, WIDTH);
}

function recordText(t: { seq: number; op: string; line: number; step?: string }): string {
  return `${t.seq} ${t.step === undefined ? t.op : `step ${t.step}`} (line ${t.line})`;
}

function stateOf(c: ObjectChange): string {
  const st = c.fields.find((f) => f.field === 'state');
  return st === undefined ? '' : ` (state was ${valueText(st.from)})`;
}

export function renderFollow(object: string, ts: readonly Transition[]): string {
  const lines = [`${object}: ${ts.length} transition${ts.length === 1 ? '' : 's'}`];
  for (const t of ts) {
    const c = t.change;
    const what =
      c.change === 'changed'
        ? c.fields.map((f) => `${f.field} ${valueText(f.from)} -> ${valueText(f.to)}`).join('; ')
        : c.change === 'created'
          ? `created: ${c.fields.map((f) => `${f.field} ${valueText(f.to)}`).join(', ')}`
          : `removed${stateOf(c)}`;
    lines.push(`  ${recordText(t)}: ${what}`);
  }
  return fit(`${lines.join('\n')}\n`, WIDTH);
}

function hitValue(h: GrepHit): string {
  const v = h.value;
  if (v === null) return '';
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return valueText(v);
  return Object.entries(v)
    .filter(([k]) => !['op', 'cause', 'id', 'via', 'seq'].includes(k))
    .map(([k, x]) => `${k}=${valueText(x)}`)
    .join(' ');
}

export function renderGrep(query: string, q: Query, hits: readonly GrepHit[]): string {
  const scope = q.at === undefined ? 'records' : `state after record ${q.at}`;
  const lines = [`${query}: ${hits.length} hit${hits.length === 1 ? '' : 's'} (${scope})`];
  for (const h of hits) {
    const v = hitValue(h);
    lines.push(`  ${q.at === undefined ? `${recordText(h)}: ` : ''}${h.what}${v === '' ? '' : `: ${v}`}`);
  }
  return fit(`${lines.join('\n')}\n`, WIDTH);
}

/** The whole view at a record, object by object (inspect's `world`). */
export function renderView(seq: number | null, v: View): string {
  const ids = [...v.objects.keys()].sort();
  const lines = [`${seq === null ? 'before the first record' : `after record ${seq}`}: ${ids.length} objects`];
  for (const id of ids) lines.push(`  ${id} ${Object.entries(v.objects.get(id)!).map(([k, x]) => `${k}=${valueText(x)}`).join(' ')}`);
  return fit(`${lines.join('\n')}\n`, WIDTH);
}

export const diffJson = (a: number, b: number, changes: readonly ObjectChange[]): string => `${JSON.stringify({ from: a, to: b, changes })}\n`;
export const followJson = (object: string, ts: readonly Transition[]): string => `${JSON.stringify({ object, transitions: ts })}\n`;
export const grepJson = (query: string, hits: readonly GrepHit[]): string => `${JSON.stringify({ query, hits })}\n`;
