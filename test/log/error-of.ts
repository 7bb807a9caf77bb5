/** The InputError the reader raises for a log's text (the tests of what the reader refuses). */
import { parseLog } from '../../src/log/reader.js';
import { InputError } from '../../src/vocab/errors.js';

export function errorOf(text: string): InputError {
  try {
    parseLog(text, 'x.jsonl');
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  throw new Error('no error');
}
