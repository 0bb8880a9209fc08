import type { ParseArgsConfig } from 'node:util';
import type { Args } from './args.js';
import type { CliRuntime } from './cli-runtime.js';
import type { Output } from './output.js';

export type OptionSpecs = NonNullable<ParseArgsConfig['options']>;

export interface CommandContext {
  args: Args;
  out: Output;
  /** Opens config, Postgres (and Redis when asked) on first use; the CLI closes it after the command. */
  runtime(options?: { redis: boolean }): Promise<CliRuntime>;
}

/** One `wxlive <group> <action>` command. */
export interface Command {
  /** The words that select it, e.g. "tenant create" or "apply". */
  name: string;
  /** Options after the name, as the usage prints them. */
  synopsis: string;
  summary: string;
  /** String options unless listed as boolean; --json and --help are added for every command. */
  options: OptionSpecs;
  /** Returns the exit code. */
  run(ctx: CommandContext): Promise<number>;
}

export const str = { type: 'string' } as const;
export const bool = { type: 'boolean' } as const;
/** A string option that may be given several times. */
export const strs = { type: 'string', multiple: true } as const;
