/**
 * Generates docs/machines.md from the machines themselves: for every object machine
 * (machines/index.ts MACHINES) and path machine (machines/paths/index.ts PATH_MACHINES), its
 * header comment, a Mermaid stateDiagram-v2 drawn from xstate/graph's toDirectedGraph, and a
 * table of its transitions. `npm run machines` rewrites the file; test/docs/machines-doc.test.ts
 * checks that it is current and that every transition of every machine config is drawn.
 *
 * The output is a pure function of the machines and their files' headers: sections sorted by
 * machine name, states and events in the order the config declares them (the lifecycle's order,
 * which is how the diagrams read best). Only flat machines are drawn (every machine here is):
 * a compound or parallel state, or an eventless or root-level transition, stops the generator
 * with an error rather than being drawn wrong.
 */
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { StateMachine, type AnyStateMachine } from 'xstate';
import { toDirectedGraph } from 'xstate/graph';
import { MACHINES } from '../machines/index.js';
import { PATH_MACHINES } from '../machines/paths/index.js';

export const MACHINES_DOC = 'docs/machines.md';
const WIDTH = 100;

export type MachineKind = 'object' | 'path';

/** One machine to draw: its registry name, the file that defines it and that file's text. */
export interface MachineEntry {
  readonly name: string;
  readonly kind: MachineKind;
  readonly file: string;
  readonly source: string;
  readonly machine: AnyStateMachine;
}

export interface DrawnState {
  readonly key: string;
  readonly initial: boolean;
  readonly final: boolean;
}

/** One transition, as toDirectedGraph gives it; `to` is null for a targetless transition. */
export interface DrawnEdge {
  readonly from: string;
  readonly event: string;
  readonly guard: string | null;
  readonly to: string | null;
  readonly actions: readonly string[];
}

/** A guard or action as the config names it: a string, `{ type }`, or an inline function. */
function nameOf(x: unknown): string {
  if (typeof x === 'string') return x;
  if (typeof x === 'object' && x !== null && 'type' in x && typeof x.type === 'string') return x.type;
  if (typeof x === 'function') return x.name === '' ? '(inline)' : x.name;
  return String(x);
}

/** The states and transitions of a flat machine, from xstate/graph's directed graph. */
export function machineGraph(machine: AnyStateMachine): { states: DrawnState[]; edges: DrawnEdge[] } {
  const root = toDirectedGraph(machine);
  const where = `machine '${machine.id}'`;
  if (root.edges.length > 0) throw new Error(`${where}: transitions on the root are not drawn`);
  const initial = root.stateNode.initial?.target.map((t) => t.key) ?? [];
  const states: DrawnState[] = [];
  const edges: DrawnEdge[] = [];
  for (const node of root.children) {
    const sn = node.stateNode;
    if (node.children.length > 0) throw new Error(`${where}: state '${sn.key}' has child states, which are not drawn`);
    if (sn.always !== undefined && sn.always.length > 0) throw new Error(`${where}: state '${sn.key}' has eventless transitions, which are not drawn`);
    states.push({ key: sn.key, initial: initial.includes(sn.key), final: sn.type === 'final' });
    for (const e of node.edges) {
      if (e.target.parent !== root.stateNode) throw new Error(`${where}: ${sn.key} --${e.label.text}--> ${e.target.id} leaves the top level`);
      edges.push({
        from: sn.key,
        event: e.label.text,
        guard: e.transition.guard === undefined ? null : nameOf(e.transition.guard),
        to: e.transition.target === undefined ? null : e.target.key,
        actions: e.transition.actions.map(nameOf),
      });
    }
  }
  return { states, edges };
}

// ---- Mermaid ----

/** A Mermaid state id: letters, digits and `_` only, prefixed so that no state is a keyword. */
export function mermaidId(key: string): string {
  return `s_${key.replace(/[^A-Za-z0-9_]/g, (c) => `_${c.charCodeAt(0)}_`)}`;
}

/**
 * Text for a transition label or a state's quoted name: Mermaid's lexer ends a label at `:`, `;`
 * or a newline and a name at `"`, and reads any line with `direction LR` (TB, ...) in it as a
 * direction; so everything but a safe set, and the space after a `direction`, is an entity code
 * (`#58;`), which Mermaid decodes before drawing.
 */
export function mermaidText(s: string): string {
  return s
    .replace(/[^A-Za-z0-9 _.,()[\]/+=*'-]/g, (c) => `#${c.codePointAt(0)};`)
    .replace(/(direction) /gi, '$1#32;');
}

/** The stateDiagram-v2 of a flat machine. */
export function mermaidDiagram(machine: AnyStateMachine): string {
  const { states, edges } = machineGraph(machine);
  const ids = new Map<string, string>();
  for (const s of states) {
    const id = mermaidId(s.key);
    if ([...ids.values()].includes(id)) throw new Error(`machine '${machine.id}': two states draw as ${id}`);
    ids.set(s.key, id);
  }
  const id = (key: string): string => ids.get(key) ?? mermaidId(key);
  const lines = ['stateDiagram-v2'];
  for (const s of states) lines.push(`  state "${mermaidText(s.key)}" as ${id(s.key)}`);
  for (const s of states) if (s.initial) lines.push(`  [*] --> ${id(s.key)}`);
  for (const e of edges) {
    const label = e.guard === null ? e.event : `${e.event} [${e.guard}]`;
    lines.push(`  ${id(e.from)} --> ${id(e.to ?? e.from)}: ${mermaidText(label)}`);
  }
  for (const s of states) if (s.final) lines.push(`  ${id(s.key)} --> [*]`);
  return lines.join('\n');
}

// ---- Markdown ----

/** Markdown-escapes prose outside its code spans (`...`): emphasis marks, HTML and backslashes. */
function escapeProse(s: string): string {
  return s
    .split(/(`[^`]*`)/)
    .map((part, i) =>
      i % 2 === 1
        ? part
        : part
            .replace(/[\\*]/g, (c) => `\\${c}`)
            .replace(/_/g, (c, at: number) => (/[A-Za-z0-9]/.test(part[at - 1] ?? '') && /[A-Za-z0-9]/.test(part[at + 1] ?? '') ? c : `\\${c}`))
            .replace(/</g, '&lt;'),
    )
    .join('');
}

/**
 * Words filled to WIDTH columns, later lines indented by `indent`. A word that would start a line
 * as Markdown syntax (a list mark, a quote, a heading, a setext underline) stays on the line before.
 */
function fill(words: readonly string[], first: string, indent: string): string[] {
  const lines: string[] = [];
  let line = first;
  for (const w of words) {
    const fresh = line === first || line === indent;
    if (!fresh && line.length + 1 + w.length > WIDTH && !/^(\+|>.*|#{1,6}|=+|-+|\d{1,9}[.)])$/.test(w)) {
      lines.push(line);
      line = indent + w;
    } else line = fresh ? line + w : `${line} ${w}`;
  }
  lines.push(line);
  return lines;
}

const words = (s: string): string[] => s.split(/\s+/).filter((w) => w !== '');

/** The header comment (the file's leading /** ... *\/), one string per line, `*` margins removed. */
export function headerLines(source: string, file: string): string[] {
  const m = /^\s*\/\*\*([\s\S]*?)\*\//.exec(source);
  if (m === null || m[1] === undefined) throw new Error(`${file}: no header comment (/** ... */) at the top`);
  const lines = m[1].split('\n').map((l) => l.replace(/^\s*\* ?/, '').trimEnd());
  while (lines[0] === '') lines.shift();
  while (lines.at(-1) === '') lines.pop();
  return lines;
}

/**
 * An indented run of header lines as `term  meaning` entries (a continuation line is indented
 * deeper than its term), or null when a line is neither.
 */
function termEntries(lines: readonly string[]): [string, string][] | null {
  const depth = (l: string): number => l.length - l.trimStart().length;
  const base = Math.min(...lines.map(depth));
  const entries: [string, string][] = [];
  for (const l of lines) {
    const last = entries.at(-1);
    if (depth(l) > base && last !== undefined) last[1] += ` ${l.trim()}`;
    else {
      const m = /^(\S+)(?:\s{2,}(.*))?$/.exec(l.slice(base));
      if (depth(l) !== base || m === null || m[1] === undefined) return null;
      entries.push([m[1], m[2] ?? '']);
    }
  }
  return entries;
}

/**
 * The header as Markdown: prose filled to paragraphs; an indented list of states (or any
 * `term  meaning` list) as a bullet list, each state marked initial or final; any other indented
 * run kept as it is, in a text block.
 */
function renderHeader(lines: readonly string[], states: readonly DrawnState[]): string[] {
  const out: string[] = [];
  const byKey = new Map(states.map((s) => [s.key, s]));
  const runs: { indented: boolean; lines: string[] }[] = [];
  for (const l of lines) {
    const indented = l !== '' && /^\s/.test(l);
    const last = runs.at(-1);
    if (l === '') runs.push({ indented: false, lines: [] });
    else if (last !== undefined && last.indented === indented) last.lines.push(l);
    else runs.push({ indented, lines: [l] });
  }
  for (const run of runs) {
    if (run.lines.length === 0) continue;
    if (out.length > 0) out.push('');
    if (!run.indented) {
      out.push(...fill(words(escapeProse(run.lines.join(' '))), '', ''));
      continue;
    }
    const entries = termEntries(run.lines);
    if (entries === null) {
      out.push('```text', ...run.lines, '```');
      continue;
    }
    for (const [term, meaning] of entries) {
      const s = byKey.get(term);
      const marks = s === undefined ? [] : [...(s.initial ? ['initial'] : []), ...(s.final ? ['final'] : [])];
      const head = `- \`${term}\`${marks.length > 0 ? ` (${marks.join(', ')})` : ''}:`;
      out.push(...fill(words(escapeProse(meaning)), `${head} `, '  '));
    }
  }
  return out;
}

const cell = (s: string): string => s.replace(/\|/g, '\\|');
const code = (s: string): string => `\`${cell(s)}\``;

/** The transitions table: from, event (and guard), to, actions, in the config's order. */
function transitionTable(edges: readonly DrawnEdge[]): string[] {
  const rows = edges.map((e) => {
    const event = e.guard === null ? code(e.event) : `${code(e.event)} [${code(e.guard)}]`;
    const to = e.to === null ? `(stays: ${code(e.from)}, no target)` : code(e.to);
    return `| ${code(e.from)} | ${event} | ${to} | ${e.actions.map(code).join(', ')} |`;
  });
  return ['| From | Event | To | Actions |', '| --- | --- | --- | --- |', ...rows];
}

function renderMachine(entry: MachineEntry): string[] {
  const { states, edges } = machineGraph(entry.machine);
  const id = entry.machine.id === entry.name ? '' : ` (machine id \`${entry.machine.id}\`)`;
  return [
    `### ${entry.name}`,
    '',
    ...fill(words(`[${entry.file}](../${entry.file})${id}: ${states.length} states, ${edges.length} transitions.`), '', ''),
    '',
    ...renderHeader(headerLines(entry.source, entry.file), states),
    '',
    '```mermaid',
    mermaidDiagram(entry.machine),
    '```',
    '',
    ...transitionTable(edges),
  ];
}

const INTRO = `# The machines, drawn

Generated by \`npm run machines\` (scripts/machines-doc.ts) from the machines themselves, with
xstate/graph's \`toDirectedGraph\`: do not edit it by hand. test/docs/machines-doc.test.ts fails
when a machine changed and this file was not regenerated.

**Object machines** (machines/*.machine.ts, registered in machines/index.ts) are the lifecycles
of kernel objects. The kernel code fires their events (\`Tx.fire\`, src/core/tx.ts): an event the
object's state does not list is a model error ("not legal in state"), and an accepted event runs
the actions its transition names, from src/kernel/actions.ts. **Path machines**
(machines/paths/*.machine.ts, registered in machines/paths/index.ts) are kernel paths: each state
is a point between two atomic steps, each event is what the state's step (src/paths/) returned,
and a final state is the path having returned.

Each machine has its header comment (what it models, the kernel functions it mirrors, what each
state means), a diagram and its transitions. In a diagram \`[*] -->\` points at the initial state,
\`--> [*]\` leaves a final one, and an edge is labelled with its event (a guard, where a
transition has one, in brackets); an edge from a state to itself is an accepted event that keeps
the state. The table lists the same transitions, in the order the machine's config declares them,
with the actions each runs.`;

/** The file's text: what `npm run machines` writes and the test compares. */
export function renderMachinesDoc(entries: readonly MachineEntry[]): string {
  const sorted = (kind: MachineKind): MachineEntry[] =>
    entries.filter((e) => e.kind === kind).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const sections: [string, MachineEntry[]][] = [
    ['Object machines', sorted('object')],
    ['Path machines', sorted('path')],
  ];
  const out = [INTRO, ''];
  for (const [title, list] of sections) {
    out.push(...fill(words(`${title}: ${list.map((e) => `[${e.name}](#${e.name})`).join(', ')}`), '- ', '  '));
  }
  for (const [title, list] of sections) {
    out.push('', `## ${title}`);
    for (const e of list) out.push('', ...renderMachine(e));
  }
  return `${out.join('\n')}\n`;
}

/**
 * Every registered machine with the file that defines it: each machines/*.machine.ts and
 * machines/paths/*.machine.ts is imported, and a machine is matched to the file that exports it.
 */
export async function machineEntries(): Promise<MachineEntry[]> {
  const files = new Map<AnyStateMachine, { file: string; source: string }>();
  for (const dir of ['machines', 'machines/paths']) {
    const url = new URL(`../${dir}/`, import.meta.url);
    for (const name of readdirSync(url).filter((f) => f.endsWith('.machine.ts')).sort()) {
      const fileUrl = new URL(name, url);
      const mod = (await import(fileUrl.href)) as Record<string, unknown>;
      for (const v of Object.values(mod)) {
        if (v instanceof StateMachine) files.set(v, { file: `${dir}/${name}`, source: readFileSync(fileUrl, 'utf8') });
      }
    }
  }
  const registered: [MachineKind, Record<string, AnyStateMachine>][] = [
    ['object', MACHINES],
    ['path', PATH_MACHINES],
  ];
  return registered.flatMap(([kind, table]) =>
    Object.entries(table).map(([name, machine]) => {
      const f = files.get(machine);
      if (f === undefined) throw new Error(`machine '${name}' is exported by no machines/**/*.machine.ts file`);
      return { name, kind, machine, ...f };
    }),
  );
}

export async function machinesDocText(): Promise<string> {
  return renderMachinesDoc(await machineEntries());
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = await machinesDocText();
  const tmp = `${MACHINES_DOC}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, MACHINES_DOC);
  process.stdout.write(`wrote ${MACHINES_DOC}\n`);
}
