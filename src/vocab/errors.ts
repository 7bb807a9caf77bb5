/**
 * The error catalogue: every error the tool reports, with its code, what it means, the exit
 * code the CLI gives it and what the user should do (immer's habit: an error says how to fix
 * it). Library code throws these classes; only src/cli maps them to exit codes and prints them.
 * A kernel errno is not an error of the tool: it is an outcome (src/core/tx.ts KernelReturn).
 */

export const ERRORS = {
  input: {
    exit: 2,
    means: 'a log line, field, file or command-line argument that cannot be used',
    fix: 'correct the file, line and field the message names (docs/log-format.md lists every op and field)',
  },
  reference: {
    exit: 2,
    means: 'a stimulus names something the log never declared, or that no longer exists at that point',
    fix: 'declare it first (host.device, host.mdev, process.spawn), or check the pid, fd, device or task it names',
  },
  model: {
    exit: 3,
    means: 'iommu-model reached a state its own rules say is impossible: a bug in the tool, not in the input',
    fix: 'please report it with the log; --debug prints the stack',
  },
} as const;

export type ErrorCode = keyof typeof ERRORS;

/** Bad input: a log line, field or CLI argument that cannot be used. Exit code 2. */
export class InputError extends Error {
  readonly code: ErrorCode = 'input';
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
 * A stimulus that names something the log never declared (an unknown pid, device or fd kind).
 * The replay and the explorer turn it into an InputError naming the record's line.
 */
export class BadReference extends Error {
  readonly code: ErrorCode = 'reference';
  constructor(
    readonly field: string,
    readonly detail: string,
  ) {
    super(`field '${field}': ${detail}`);
    this.name = 'BadReference';
  }
}

/** The model reached a state its own rules say is impossible: a bug in iommu-model, not input. */
export class ModelError extends Error {
  readonly code: ErrorCode = 'model';
  override name = 'ModelError';
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
