/** Bad arguments: the CLI prints the usage on stderr and exits with 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(
    message: string,
    /** The command whose synopsis to print; undefined prints the whole usage. */
    readonly command?: string,
  ) {
    super(message);
  }
}

/** A problem with the input or the environment the user can fix (unreadable file, no Redis): exit 1. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const EXIT = {
  OK: 0,
  ERROR: 1,
  USAGE: 2,
  /** `apply` finished, but WeChat-side checks refused some rows (listed in the summary). */
  PARTIAL: 3,
} as const;
