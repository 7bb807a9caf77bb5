/**
 * `inspect <log>`: builds the log's timeline once, then answers commands read from stdin, one a
 * line (a terminal or a pipe): at, next, prev, diff, grep, follow, why, world, help, quit
 * (docs/navigation.md). A bad command prints one error line and the session goes on.
 */
import { createInterface } from 'node:readline';
import { Replay } from '../../run/replay.js';
import { TimelineBuilder, type Timeline } from '../../run/timeline.js';
import { canonicalId, diffRecords, diffViews, follow, grep, parseQuery, parseSeqArg, positionOfSeq } from '../../run/timeline-query.js';
import { InputError, showValue } from '../../vocab/errors.js';
import type { Derived } from '../../vocab/records.js';
import { EXIT_CLEAN, parseSize, streamLog, type Io } from '../io.js';
import { loadScheme } from '../resolve.js';
import { renderDiff, renderFollow, renderGrep, renderView, valueText } from '../render/timeline.js';
import { fit } from '../render/term.js';

export interface InspectOptions {
  scheme?: string;
  maxLine: string;
}

export const INSPECT_HELP = `commands:
  at <seq>            go to the state after record <seq>; prints what that record changed
  next [k], prev [k]  move k records (default 1) forwards or backwards
  diff <a> <b>        what changed between the states after records a and b
  grep <query>        iova=0xc0000, vaddr=0x7f..., pasid=3, device=0000:01:00.0, lock=memory_lock;
                      add @<seq> for the state after that record (lock=memory_lock@812)
  follow <object>     one object's lifecycle (vfio_dma:5@0x0, device:0000:01:00.0, lock:...)
  why <seq[.id]>      a derived record's chain of causes (the whole tree with <seq> alone)
  world               every object at the current record
  help, quit
`;

/** One inspect session over a built timeline: `exec` answers a command line. */
export class Session {
  /** The position: 0 before the first record, p after the p-th. */
  private pos: number;

  constructor(private readonly t: Timeline) {
    this.pos = t.length;
  }

  private here(): string {
    if (this.pos === 0) return 'before the first record';
    const r = this.t.records[this.pos - 1]!;
    return `record ${r.seq} ${r.step === undefined ? r.op : `step ${r.step}`} (line ${r.line}), ${this.pos} of ${this.t.length}`;
  }

  /** Where we are and what the current record changed. */
  private show(): string {
    const changes = this.pos === 0 ? [] : diffViews(this.t.at(this.pos - 1), this.t.at(this.pos));
    const body = renderDiff(this.pos === 0 ? 0 : this.t.records[this.pos - 1]!.seq, this.pos === 0 ? 0 : this.t.records[this.pos - 1]!.seq, changes).split('\n').slice(1).join('\n');
    return `at ${this.here()}: ${changes.length} object${changes.length === 1 ? '' : 's'} changed\n${body}`;
  }

  private steps(arg: string | undefined, cmd: string): number {
    if (arg === undefined) return 1;
    if (!/^[1-9][0-9]*$/.test(arg)) throw new InputError('<stdin>', null, cmd, `expected a positive count, got ${showValue(arg)}`);
    return Number(arg);
  }

  /** The answer to one command line; null for quit. */
  exec(line: string): string | null {
    const [cmd, ...args] = line.trim().split(/\s+/);
    try {
      switch (cmd) {
        case undefined:
        case '':
          return '';
        case 'quit':
        case 'exit':
          return null;
        case 'help':
          return INSPECT_HELP;
        case 'at':
          this.pos = positionOfSeq(this.t, parseSeqArg(args[0] ?? '', 'at'), 'at');
          return this.show();
        case 'next':
          this.pos = Math.min(this.t.length, this.pos + this.steps(args[0], 'next'));
          return this.show();
        case 'prev':
          this.pos = Math.max(0, this.pos - this.steps(args[0], 'prev'));
          return this.show();
        case 'diff': {
          if (args.length !== 2) throw new InputError('<stdin>', null, 'diff', 'expected two record numbers <a> <b>');
          const [a, b] = args.map((v) => parseSeqArg(v, 'diff')) as [number, number];
          return renderDiff(a, b, diffRecords(this.t, a, b, 'diff'));
        }
        case 'grep': {
          const q = parseQuery(args.join(' '), 'grep');
          return renderGrep(args.join(' '), q, grep(this.t, q, 'grep'));
        }
        case 'follow':
          return renderFollow(canonicalId(args[0] ?? ''), follow(this.t, args[0] ?? '', 'follow'));
        case 'why':
          return this.why(args[0] ?? '');
        case 'world':
          return renderView(this.pos === 0 ? null : this.t.records[this.pos - 1]!.seq, this.t.at(this.pos));
        default:
          return `error: unknown command ${showValue(cmd)} (help lists them)\n`;
      }
    } catch (e) {
      if (e instanceof InputError) return `error: ${e.detail}\n`;
      throw e;
    }
  }

  private why(arg: string): string {
    const m = /^([1-9][0-9]*)(?:\.([1-9][0-9]*))?$/.exec(arg);
    if (m === null) throw new InputError('<stdin>', null, 'why', `expected <seq> or <seq>.<derived id>, got ${showValue(arg)}`);
    const p = positionOfSeq(this.t, Number(m[1]), 'why');
    const r = this.t.records[p - 1]!;
    const text = (d: Derived): string => `${d.cause}.${d.id} ${d.op} ${Object.entries(d).filter(([k]) => !['op', 'cause', 'id', 'via'].includes(k)).map(([k, v]) => `${k}=${valueText(v)}`).join(' ')}`;
    const stim = `${r.seq} ${r.op}${r.stimulus.task === undefined ? '' : ` ${r.stimulus.task}`} (line ${r.line})`;
    if (m[2] === undefined) return fit(`${[stim, ...r.derived.map((d) => `  ${text(d)}`)].join('\n')}\n`, 100);
    const byId = new Map(r.derived.map((d) => [d.id, d]));
    let cur = byId.get(Number(m[2]));
    if (cur === undefined) throw new InputError('<stdin>', null, 'why', `record ${r.seq} caused no derived record ${m[2]}`);
    const chain: string[] = [];
    while (cur !== undefined) {
      chain.push(`${chain.length === 0 ? '' : '  because '}${text(cur)}`);
      cur = cur.via === undefined ? undefined : byId.get(cur.via);
    }
    return fit(`${[...chain, `  because ${stim}`].join('\n')}\n`, 100);
  }
}

/** Builds the timeline of `file` (the whole log is read and validated first: bad input is exit 2). */
export async function timelineOfFile(file: string, o: InspectOptions): Promise<Timeline> {
  const scheme = o.scheme === undefined ? undefined : await loadScheme(o.scheme);
  const b = new TimelineBuilder();
  let replay: Replay | undefined;
  await streamLog(file, (h) => (replay = new Replay(h, file, (st) => b.push(st, replay!.world), scheme)), (it) => replay!.push(it), { maxLine: parseSize(o.maxLine, '--max-line') });
  replay!.finish();
  return b.finish();
}

export async function runInspect(io: Io, file: string, o: InspectOptions): Promise<number> {
  const t = await timelineOfFile(file, o);
  const session = new Session(t);
  io.stdout(`${file}: ${t.length} records; at the last (help lists the commands)\n`);
  const input = io.stdinLines ?? createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
  for await (const line of input) {
    const out = session.exec(line);
    if (out === null) break;
    io.stdout(out);
  }
  return EXIT_CLEAN;
}
