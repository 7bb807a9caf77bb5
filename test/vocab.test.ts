/**
 * The error catalogue is what users read in docs/architecture.md: every entry is documented
 * there with its exit code, and every error class names an entry.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BadReference, ERRORS, InputError, ModelError } from '../src/vocab/errors.js';

describe('the error catalogue', () => {
  const doc = readFileSync(new URL('../docs/architecture.md', import.meta.url), 'utf8');

  it.each(Object.entries(ERRORS))('documents %s with its exit code, meaning and fix', (code, e) => {
    expect(doc).toContain(`| \`${code}\` | ${e.exit} | ${e.means} | ${e.fix} |`);
  });

  it('gives bad input and bad references exit 2, and a model error exit 3', () => {
    expect(ERRORS[new InputError('f', 1, 'op', 'x').code].exit).toBe(2);
    expect(ERRORS[new BadReference('pid', 'x').code].exit).toBe(2);
    expect(ERRORS[new ModelError('x').code].exit).toBe(3);
  });
});
