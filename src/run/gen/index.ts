/**
 * `iommu-model gen` (issue 12): logs whose expectations are the model's own outcomes, covering
 * every object-machine transition, every ioctl check or every path-machine state, for testing
 * another implementation against the model (docs/model-based-testing.md). Pure: the CLI writes
 * the logs.
 */
import { COVER_KINDS, type CoverKind, type Coverage } from './coverage.js';
import { generateErrnos } from './errnos.js';
import { generatePaths } from './paths.js';
import { generateTransitions } from './transitions.js';

export { COVER_KINDS, type CoverKind, type Coverage, type GeneratedLog, type Gap, type Target } from './coverage.js';

const GENERATORS: { readonly [K in CoverKind]: () => Coverage } = {
  transitions: generateTransitions,
  errnos: generateErrnos,
  paths: generatePaths,
};

export function isCoverKind(s: string): s is CoverKind {
  return (COVER_KINDS as readonly string[]).includes(s);
}

export function generate(kind: CoverKind): Coverage {
  return GENERATORS[kind]();
}

/** The prefix of every log file a criterion writes (`transition-`, `errno-`, `path-`). */
export const FILE_PREFIX: { readonly [K in CoverKind]: string } = { transitions: 'transition-', errnos: 'errno-', paths: 'path-' };
