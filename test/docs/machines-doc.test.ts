/**
 * docs/machines.md: current (what scripts/machines-doc.ts generates from the machines now), with a
 * section for every registered machine, and in each section's diagram and table every transition
 * of the machine's own config (read here from `machine.config`, not through xstate/graph, so a
 * transition the generator dropped or invented fails), the initial state and the final ones.
 *
 * Mermaid is not installed, so the diagrams are not parsed by Mermaid itself: every line is
 * checked against the token rules of Mermaid's stateDiagram lexer
 * (packages/mermaid/src/diagrams/state/parser/stateDiagram.jison: an ID is `[^:\n\s\-\{]+`, a
 * transition's label `":"[^:\n;]+`, a state's quoted name `[^"]*`), after the entity codes
 * (`#58;`) are taken out as Mermaid's encodeEntities takes them out before parsing.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { setup, type AnyStateMachine } from 'xstate';
import { MACHINES } from '../../machines/index.js';
import { PATH_MACHINES } from '../../machines/paths/index.js';
import { MACHINES_DOC, machinesDocText, mermaidDiagram, renderMachinesDoc } from '../../scripts/machines-doc.js';

const doc = readFileSync(MACHINES_DOC, 'utf8');

const REGISTERED: [string, 'Object machines' | 'Path machines', AnyStateMachine][] = [
  ...Object.entries(MACHINES).map(([n, m]): [string, 'Object machines', AnyStateMachine] => [n, 'Object machines', m]),
  ...Object.entries(PATH_MACHINES).map(([n, m]): [string, 'Path machines', AnyStateMachine] => [n, 'Path machines', m]),
];

interface ConfigShape {
  readonly initial?: string;
  readonly states?: Record<string, { readonly on?: Record<string, unknown>; readonly type?: string }>;
}

interface Transition {
  readonly from: string;
  readonly event: string;
  readonly guard: string | null;
  /** null: a targetless transition (drawn as a loop on its state). */
  readonly to: string | null;
  readonly actions: string[];
}

function configName(x: unknown): string {
  if (typeof x === 'string') return x;
  if (typeof x === 'object' && x !== null && 'type' in x && typeof x.type === 'string') return x.type;
  if (typeof x === 'function') return x.name === '' ? '(inline)' : x.name;
  throw new Error(`cannot name ${String(x)}`);
}

/** Every transition of a flat machine's config: `on: { EVENT: target | { target, guard, actions } | [...] }`. */
function configTransitions(machine: AnyStateMachine): Transition[] {
  const config = machine.config as ConfigShape;
  const out: Transition[] = [];
  for (const [from, node] of Object.entries(config.states ?? {})) {
    for (const [event, value] of Object.entries(node.on ?? {})) {
      for (const t of [value].flat()) {
        if (typeof t === 'string') {
          out.push({ from, event, guard: null, to: t, actions: [] });
          continue;
        }
        const { target, guard, actions } = t as { target?: string; guard?: unknown; actions?: unknown };
        out.push({ from, event, guard: guard === undefined ? null : configName(guard), to: target ?? null, actions: [actions ?? []].flat().map(configName) });
      }
    }
  }
  return out;
}

/** The doc's machine sections: `## Object machines` / `## Path machines`, then `### name` each. */
function sections(text: string): Map<string, { group: string; body: string }> {
  const out = new Map<string, { group: string; body: string }>();
  let group = '';
  for (const part of text.split(/^(?=##+ )/m)) {
    const heading = /^(##+) (.*)\n/.exec(part);
    if (heading === null) continue;
    if (heading[1] === '##') group = heading[2] ?? '';
    else out.set(heading[2] ?? '', { group, body: part });
  }
  return out;
}

function mermaidBlocks(body: string): string[] {
  return [...body.matchAll(/^```mermaid\n([\s\S]*?)\n```$/gm)].map((m) => m[1] ?? '');
}

const decode = (s: string): string => s.replace(/#(\d+);/g, (_, n: string) => String.fromCodePoint(Number(n)));

/** A diagram read back: its state names by id, its edges, initial and final markers; throws on any other line. */
function readDiagram(block: string): { names: Map<string, string>; edges: string[]; initial: string[]; final: string[] } {
  const names = new Map<string, string>();
  const raw: [string, string, string][] = [];
  const initial: string[] = [];
  const final: string[] = [];
  const [first, ...rest] = block.split('\n');
  expect(first).toBe('stateDiagram-v2');
  for (const line of rest) {
    let m: RegExpExecArray | null;
    if ((m = /^ {2}state "([^"]*)" as (\S+)$/.exec(line)) !== null) names.set(m[2] ?? '', decode(m[1] ?? ''));
    else if ((m = /^ {2}\[\*\] --> (\S+)$/.exec(line)) !== null) initial.push(m[1] ?? '');
    else if ((m = /^ {2}(\S+) --> \[\*\]$/.exec(line)) !== null) final.push(m[1] ?? '');
    else if ((m = /^ {2}(\S+) --> (\S+): (.+)$/.exec(line)) !== null) raw.push([m[1] ?? '', m[2] ?? '', m[3] ?? '']);
    else throw new Error(`not a line the generator writes: ${JSON.stringify(line)}`);
  }
  const name = (id: string): string => names.get(id) ?? `(undeclared ${id})`;
  return {
    names,
    edges: raw.map(([a, b, label]) => `${name(a)} --> ${name(b)}: ${decode(label)}`),
    initial: initial.map(name),
    final: final.map(name),
  };
}

/** Every line of a block against the tokens of Mermaid's stateDiagram lexer (see the header). */
function mermaidLineErrors(block: string): string[] {
  const id = /^[^:\s\-{]+$/;
  const keyword = /^(state|note|class|classdef|scale|default|direction|hide|accTitle|accDescr)/i;
  const errors: string[] = [];
  for (const line of block.split('\n').slice(1)) {
    const text = line.replace(/#\w+;/g, 'E'); // encodeEntities: an entity is no `;` or `:` to the lexer
    const m = /^ {2}(?:state "([^"]*)" as (.+)|(\S+) --> (\S+)(?:: (.*))?)$/.exec(text);
    if (m === null) {
      errors.push(`unknown statement: ${line}`);
      continue;
    }
    const ids = [m[2], m[3], m[4]].filter((x): x is string => x !== undefined && x !== '[*]');
    for (const x of ids) if (!id.test(x) || keyword.test(x)) errors.push(`bad id ${x}: ${line}`);
    if (m[5] !== undefined && !/^[^:\n;]+$/.test(m[5])) errors.push(`bad label: ${line}`);
    if (/direction\s+(TB|BT|RL|LR)/i.test(text)) errors.push(`read as a direction: ${line}`);
  }
  return errors;
}

const labelOf = (t: Transition): string => (t.guard === null ? t.event : `${t.event} [${t.guard}]`);

describe('docs/machines.md', () => {
  it('is what scripts/machines-doc.ts generates from the machines now (run `npm run machines` after changing one)', async () => {
    expect(doc, 'docs/machines.md is out of date: run `npm run machines` and commit it').toBe(await machinesDocText());
  });

  it('has a section for every machine of machines/index.ts and machines/paths/index.ts, in its group, each with one diagram', () => {
    const found = sections(doc);
    expect([...found.keys()].sort()).toEqual(REGISTERED.map(([n]) => n).sort());
    for (const [name, group] of REGISTERED) {
      expect(found.get(name)?.group, name).toBe(group);
      expect(mermaidBlocks(found.get(name)?.body ?? ''), name).toHaveLength(1);
    }
  });

  it.each(REGISTERED.map(([n, , m]) => [n, m] as const))('%s: its diagram draws every transition of its config, its initial and its final states', (name, machine) => {
    const body = sections(doc).get(name)?.body ?? '';
    const d = readDiagram(mermaidBlocks(body)[0] ?? '');
    const config = machine.config as ConfigShape;
    const states = Object.keys(config.states ?? {});
    expect([...d.names.values()].sort()).toEqual([...states].sort());
    const expected = configTransitions(machine).map((t) => `${t.from} --> ${t.to ?? t.from}: ${labelOf(t)}`);
    expect(expected.length).toBeGreaterThan(0);
    expect([...d.edges].sort()).toEqual([...expected].sort());
    expect(d.initial).toEqual([config.initial]);
    expect([...d.final].sort()).toEqual(states.filter((s) => config.states?.[s]?.type === 'final').sort());
  });

  it.each(REGISTERED.map(([n, , m]) => [n, m] as const))('%s: its table lists every transition of its config with its actions', (name, machine) => {
    const body = sections(doc).get(name)?.body ?? '';
    const rows = body.split('\n').filter((l) => l.startsWith('| `'));
    const expected = configTransitions(machine).map((t) => {
      const event = t.guard === null ? `\`${t.event}\`` : `\`${t.event}\` [\`${t.guard}\`]`;
      const to = t.to === null ? `(stays: \`${t.from}\`, no target)` : `\`${t.to}\``;
      return `| \`${t.from}\` | ${event} | ${to} | ${t.actions.map((a) => `\`${a}\``).join(', ')} |`;
    });
    expect(rows).toEqual(expected);
  });

  it('draws Mermaid that its stateDiagram lexer accepts, line by line', () => {
    const blocks = mermaidBlocks(doc);
    expect(blocks).toHaveLength(REGISTERED.length);
    for (const block of blocks) expect(mermaidLineErrors(block)).toEqual([]);
  });

  it('keeps its lines to 100 columns, but for table rows', () => {
    const long = doc.split('\n').filter((l) => l.length > 100 && !l.startsWith('|'));
    expect(long).toEqual([]);
  });
});

describe('the generator', () => {
  /** State and event names that Mermaid would misread unescaped: a colon, a semicolon, quotes, keywords. */
  const awkward = setup({
    types: { events: {} as { type: 'GO:NOW' } | { type: 'STOP;#1' } | { type: 'POKE' } },
    guards: { 'is "ready"': () => true },
    actions: { 'note it': () => {} },
  }).createMachine({
    id: 'awkward',
    initial: 'state',
    states: {
      state: { on: { 'GO:NOW': { target: 'a-b "c"', guard: 'is "ready"' }, POKE: { actions: 'note it' } } },
      'a-b "c"': { on: { 'STOP;#1': 'direction LR' } },
      'direction LR': { type: 'final' },
    },
  });

  it('escapes awkward state and event names so Mermaid reads them back as written', () => {
    const block = mermaidDiagram(awkward);
    expect(mermaidLineErrors(block)).toEqual([]);
    const d = readDiagram(block);
    expect([...d.names.values()]).toEqual(['state', 'a-b "c"', 'direction LR']);
    expect(d.edges).toEqual(['state --> a-b "c": GO:NOW [is "ready"]', 'state --> state: POKE', 'a-b "c" --> direction LR: STOP;#1']);
    expect(d.initial).toEqual(['state']);
    expect(d.final).toEqual(['direction LR']);
  });

  it('tables a guard, a targetless transition and its actions', () => {
    const text = renderMachinesDoc([{ name: 'awkward', kind: 'object', file: 'machines/awkward.machine.ts', source: '/** An awkward machine. */\n', machine: awkward }]);
    expect(text).toContain('| `state` | `GO:NOW` [`is "ready"`] | `a-b "c"` |  |');
    expect(text).toContain('| `state` | `POKE` | (stays: `state`, no target) | `note it` |');
  });

  it('refuses a machine it cannot draw flat, naming the state', () => {
    const nested = setup({}).createMachine({ id: 'nested', initial: 'outer', states: { outer: { initial: 'inner', states: { inner: {} } } } });
    expect(() => mermaidDiagram(nested)).toThrow("machine 'nested': state 'outer' has child states, which are not drawn");
  });
});
