/**
 * What a text renderer knows of the terminal it writes to: its width and whether to colour. The
 * decision is made once, from the stream and the environment (bin/iommu-model.js); renderers take
 * a Term and stay pure. Colour follows the conventions of no-color.org and FORCE_COLOR: NO_COLOR
 * (non-empty) turns it off, FORCE_COLOR turns it on (FORCE_COLOR=0 off), otherwise a TTY gets it.
 */
import { styleText } from 'node:util';
import wrapAnsi from 'wrap-ansi';

export interface Term {
  /** Columns to fit: the terminal's, or 100 when the output is not a terminal. */
  readonly width: number;
  readonly colour: boolean;
}

/** Lines fit this when the output is a file or a pipe. */
export const PIPE_WIDTH = 100;

/** What a caller that gives no Term gets (a test, a library user capturing output): no width limit, no colour. */
export const PLAIN: Term = { width: Number.POSITIVE_INFINITY, colour: false };

/** The Term of an output stream, from whether it is a TTY, its columns and the environment. */
export function termOf(isTTY: boolean, columns: number | undefined, env: Readonly<Record<string, string | undefined>>): Term {
  const force = env['FORCE_COLOR'];
  const colour = env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '' ? false : force !== undefined ? force !== '0' && force !== 'false' : isTTY;
  const width = isTTY && columns !== undefined && columns >= 40 ? columns : PIPE_WIDTH;
  return { width, colour };
}

type Style = 'red' | 'green' | 'yellow' | 'bold' | 'dim';

/** `text` in a style when the Term colours, as it is otherwise. */
export function paint(term: Term, style: Style, text: string): string {
  // the decision is the Term's: styleText must not strip the codes again by looking at stdout
  return term.colour ? styleText(style, text, { validateStream: false }) : text;
}

/**
 * Fits text to the width: a longer line is wrapped at spaces (a word longer than the width is cut),
 * its continuation lines indented four more than the line itself, so a wrapped line still reads
 * as one. Colour codes do not count as columns.
 */
export function fit(text: string, width: number): string {
  if (!Number.isFinite(width)) return text;
  return text
    .split('\n')
    .map((line) => {
      if (line.length <= width) return line;
      const indent = /^ */.exec(line)![0].length;
      const room = Math.max(width - indent - 4, 20);
      const [first, ...rest] = wrapAnsi(line.slice(indent), room, { hard: true, trim: true }).split('\n');
      return [`${' '.repeat(indent)}${first}`, ...rest.map((r) => `${' '.repeat(indent + 4)}${r}`)].join('\n');
    })
    .join('\n');
}
