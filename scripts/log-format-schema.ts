/**
 * Generates docs/log-format.schema.json, the JSON Schema (2020-12) of one line of a log, from the
 * vocabulary the reader validates against: STIMULUS_SCHEMA and COMMON_FIELDS (src/vocab/records.ts),
 * the errnos, the releases and the property names. `npm run schema` rewrites the file;
 * test/log/schema.test.ts checks that it is current and that it agrees with src/log/reader.ts.
 *
 * The schema judges one record alone. What the reader checks across lines is not in it: the
 * header comes first and only once, seq increases, a derived record follows the stimulus it
 * names as its cause, and SVA stimuli need a header kernel of 6.2 or later. Two per-line rules
 * cannot be said in JSON Schema, which does not compare two values: a range's end (`aperture`,
 * `resv[].end`) is not below its start (docs/log-format.md, "What the schema does not check").
 */
import { renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ERRNOS } from '../src/vocab/errno.js';
import { PROPERTY_NAMES } from '../src/vocab/properties.js';
import { COMMON_FIELDS, ON_ERROR, STIMULUS_SCHEMA, type FieldKind } from '../src/vocab/records.js';
import { LATEST_RELEASE, RELEASES } from '../src/vocab/releases.js';

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

export const SCHEMA_FILE = 'docs/log-format.schema.json';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const U64_MAX = (1n << 64n) - 1n;

/**
 * A pattern for the decimal strings of 0..max, leading zeros allowed, as src/log/u64.ts reads
 * them ("0x..." hex is the other spelling): shorter numbers, or as many digits as max and, at the
 * first digit that differs, a smaller one.
 */
export function decimalAtMost(max: bigint): string {
  const d = max.toString();
  const alts = d.length > 1 ? [`[0-9]{1,${d.length - 1}}`] : [];
  for (let i = 0; i < d.length; i += 1) {
    const lowest = i === 0 && d.length > 1 ? 1 : 0; // a leading 0 is one of the shorter numbers
    const below = Number(d[i]) - 1;
    if (below < lowest) continue;
    const rest = d.length - i - 1;
    const digit = below === lowest ? `${lowest}` : `[${lowest}-${below}]`;
    alts.push(`${d.slice(0, i)}${digit}${rest > 1 ? `[0-9]{${rest}}` : rest === 1 ? '[0-9]' : ''}`);
  }
  alts.push(d);
  return `^0*(${alts.join('|')})$`;
}

const u64Doc = 'a u64: a "0x" hex string, a decimal string, or a JSON integer up to 2^53-1 (src/log/u64.ts); 0 to 2^64-1';
const intDoc = 'a non-negative integer up to 2^53-1';

/** One definition per field kind of src/vocab/records.ts: a kind added there does not compile here until it has one. */
const KINDS: Record<FieldKind, JsonObject> = {
  u64: {
    description: u64Doc,
    anyOf: [
      { type: 'integer', minimum: 0, maximum: MAX_SAFE },
      { type: 'string', pattern: '^0x0*[0-9a-fA-F]{1,16}$' },
      { type: 'string', pattern: decimalAtMost(U64_MAX) },
    ],
  },
  int: { description: intDoc, type: 'integer', minimum: 0, maximum: MAX_SAFE },
  string: { type: 'string' },
  bool: { type: 'boolean' },
  prot: { description: 'protections: READ, WRITE', type: 'array', items: { enum: ['READ', 'WRITE'] } },
  any: { description: "checked by the op's own handler (an ioctl's arg: docs/log-format.md, ioctl)" },
  bars: {
    description: 'the BARs of a PCI device',
    type: 'array',
    items: {
      type: 'object',
      properties: { index: { type: 'integer', minimum: 0, maximum: 5 }, phys: { $ref: '#/$defs/u64' }, size: { $ref: '#/$defs/u64' } },
      required: ['index', 'phys', 'size'],
      additionalProperties: false,
    },
  },
  range: {
    description: '[start, end], end not below start',
    type: 'array',
    prefixItems: [{ $ref: '#/$defs/u64' }, { $ref: '#/$defs/u64' }],
    minItems: 2,
    items: false,
  },
  resv: {
    description: 'reserved IOVA regions, end inclusive and not below start',
    type: 'array',
    items: {
      type: 'object',
      properties: { start: { $ref: '#/$defs/u64' }, end: { $ref: '#/$defs/u64' }, type: { enum: ['msi', 'sw_msi', 'reserved', 'direct'] } },
      required: ['start', 'end', 'type'],
      additionalProperties: false,
    },
  },
};

const positive = (description: string): JsonObject => ({ description, type: 'integer', minimum: 1, maximum: MAX_SAFE });

/** The fields COMMON_FIELDS lets every stimulus carry (`op` is each op's own const). */
const COMMON: Record<Exclude<(typeof COMMON_FIELDS)[number], 'op'>, JsonObject> = {
  seq: positive('the record number; absent: its line number. Increases from record to record'),
  expect: { $ref: '#/$defs/expect' },
  task: { description: 'the concurrent kernel task that runs this stimulus (docs/concurrency.md)', type: 'string', minLength: 1 },
  on_error: { description: 'what the task does when this stimulus fails with an errno; stop is the default', enum: [...ON_ERROR] },
  comment: { description: 'free text, ignored', type: 'string' },
};

function stimulusDef(op: string, fields: Readonly<Record<string, { kind: FieldKind; optional?: true }>>): JsonObject {
  const properties: JsonObject = { op: { const: op } };
  for (const [name, spec] of Object.entries(fields)) properties[name] = { $ref: `#/$defs/${spec.kind}` };
  for (const [name, def] of Object.entries(COMMON)) {
    // src/log/reader.ts: a step record runs a step of its task; on_error belongs on the stimulus
    if (op === 'step' && name === 'on_error') continue;
    properties[name] = def;
  }
  const required = Object.entries(fields).filter(([, s]) => s.optional !== true).map(([name]) => name);
  return { description: `the ${op} stimulus (docs/log-format.md)`, type: 'object', properties, required, additionalProperties: false };
}

export function logFormatSchema(): JsonObject {
  const ops = Object.keys(STIMULUS_SCHEMA);
  const defs: JsonObject = {};
  for (const [kind, def] of Object.entries(KINDS)) defs[kind] = def;
  defs['header'] = {
    description: 'the first record of a log',
    type: 'object',
    properties: {
      format: { const: 'iommu-model/1' },
      scheme: { description: 'a built-in scheme or a scheme file; absent: upstream', type: 'string' },
      kernel: { description: `the kernel release whose rules the log follows; absent: ${LATEST_RELEASE}`, enum: [...RELEASES] },
      description: { description: 'one line saying what the log shows', type: 'string' },
      violations: { description: 'the properties the log is known to violate', type: 'array', items: { type: 'string' } },
      exercises: { description: 'the properties a scenario is meant to exercise; absent: all', type: 'array', items: { enum: [...PROPERTY_NAMES] } },
    },
    required: ['format'],
    additionalProperties: false,
  };
  defs['derived'] = {
    description: 'a record the engine derived from a stimulus; its other fields depend on op (docs/log-format.md, Derived records)',
    type: 'object',
    properties: {
      op: { type: 'string' },
      cause: positive('the seq of the stimulus (or step record) that caused it'),
      id: positive('its number among the derived records of that stimulus, from 1'),
      via: positive('the id of the derived record it follows from, when not the stimulus itself'),
    },
    required: ['op', 'cause', 'id'],
  };
  defs['expect'] = {
    description: 'the outcome the stimulus expects; a different outcome is a divergence',
    type: 'object',
    properties: {
      ret: { $ref: '#/$defs/u64' },
      errno: { enum: [...ERRNOS] },
      out: { description: 'the fields the call writes back; only those named are compared', type: 'object' },
      dma: { enum: ['ok', 'fault'] },
      signal: { enum: ['SIGBUS', 'SIGSEGV'] },
    },
    additionalProperties: false,
    not: { description: 'ret and errno exclude each other', required: ['ret', 'errno'] },
  };
  for (const [op, fields] of Object.entries(STIMULUS_SCHEMA)) defs[`stimulus.${op}`] = stimulusDef(op, fields);
  defs['stimulus'] = {
    description: 'a stimulus: what happens to the kernel',
    type: 'object',
    properties: { op: { enum: ops } },
    required: ['op'],
    allOf: ops.map((op) => ({ if: { properties: { op: { const: op } }, required: ['op'] }, then: { $ref: `#/$defs/stimulus.${op}` } })),
  };
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'iommu-model log format v1: one record (one line of a log)',
    description:
      'Generated by scripts/log-format-schema.ts from src/vocab/records.ts (npm run schema); do not edit. A record with format is a header, one with cause a derived record, any other a stimulus. docs/log-format.md is the reference, and says what only the reader checks (across lines, and a range end below its start).',
    type: 'object',
    if: { required: ['format'] },
    then: { $ref: '#/$defs/header' },
    else: { if: { required: ['cause'] }, then: { $ref: '#/$defs/derived' }, else: { $ref: '#/$defs/stimulus' } },
    $defs: defs,
  };
}

/** JSON indented by two, with arrays of scalars (enums, required lists) on one line. */
function format(v: Json, indent = ''): string {
  const inner = `${indent}  `;
  if (Array.isArray(v)) {
    if (v.every((x) => x === null || typeof x !== 'object')) return JSON.stringify(v).replaceAll('","', '", "');
    return `[\n${v.map((x) => inner + format(x, inner)).join(',\n')}\n${indent}]`;
  }
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  const entries = Object.entries(v).map(([k, x]) => `${inner}${JSON.stringify(k)}: ${format(x, inner)}`);
  return entries.length === 0 ? '{}' : `{\n${entries.join(',\n')}\n${indent}}`;
}

/** The file's text: what `npm run schema` writes and the test compares. */
export function schemaText(): string {
  return `${format(logFormatSchema())}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const tmp = `${SCHEMA_FILE}.tmp`;
  writeFileSync(tmp, schemaText());
  renameSync(tmp, SCHEMA_FILE);
  process.stdout.write(`wrote ${SCHEMA_FILE}\n`);
}
