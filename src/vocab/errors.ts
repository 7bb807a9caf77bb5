/**
 * Typed errors. Library code throws these; only src/cli maps them to exit codes and prints them.
 */

/** Bad input: a log line, field or CLI argument that cannot be used. Exit code 2. */
export class InputError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | null,
    readonly field: string | null,
    readonly detail: string,
  ) {
    super(
      `${file}${line === null ? '' : `:${line}`}${field === null ? '' : `: field '${field}'`}: ${detail}`,
    );
    this.name = 'InputError';
  }
}

/**
 * A location inside a log, carried by validators so that every error can name file, line and field.
 */
export interface Where {
  readonly file: string;
  readonly line: number;
}

export function fail(where: Where, field: string | null, detail: string): never {
  throw new InputError(where.file, where.line, field, detail);
}
