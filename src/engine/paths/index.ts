/**
 * Which path a stimulus runs, and the multi-step paths by name. Every stimulus not listed here
 * runs the atomic path (its rule in one step).
 */
import type { Stimulus } from '../../log/records.js';
import type { Scheme } from '../../schemes/scheme.js';
import type { PathDef } from './types.js';

export const PATHS_BY_NAME: Readonly<Record<string, PathDef>> = {};

export function pathNameFor(_s: Stimulus, _scheme: Scheme): string {
  return 'atomic';
}
