/**
 * `schemes`: lists the built-in schemes with their summaries, and the scenarios whose set-up
 * each cannot run.
 */
import { builtinSchemes } from '../../schemes/catalogue.js';
import { EXIT_CLEAN, type Io } from '../io.js';
import { renderSchemes } from '../render/text.js';

export function runSchemes(io: Io): number {
  io.stdout(renderSchemes(builtinSchemes(), io.term));
  return EXIT_CLEAN;
}
