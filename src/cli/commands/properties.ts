/**
 * `properties`: lists the properties every replay and exploration checks, one line each with
 * what it means (the checker's GLOSS).
 */
import { GLOSS } from '../../vocab/properties.js';
import { EXIT_CLEAN, type Io } from '../io.js';
import { renderProperties } from '../render/text.js';

export function runProperties(io: Io): number {
  io.stdout(renderProperties(GLOSS, io.term));
  return EXIT_CLEAN;
}
