import { parseArgs } from 'node:util';
import { ConfigError } from '../config/config.js';
import { DomainError } from '../services/errors.js';
import { Args, type OptionValues } from './args.js';
import { CliError, EXIT, UsageError } from './cli-errors.js';
import type { CliRuntime } from './cli-runtime.js';
import { bool, type Command } from './command.js';
import { COMMANDS } from './commands/index.js';
import { type CliIO, Output } from './output.js';
import { commandUsage, fullUsage } from './usage.js';

/** Picks the command from the leading words: `tenant create ...` or `apply ...`. */
function findCommand(argv: readonly string[]): { command: Command; rest: string[] } {
  const [first = '', second = ''] = argv;
  if (first === '') throw new UsageError('no command given');
  if (first.startsWith('-')) throw new UsageError(`put the command first (got "${first}")`);
  const match = COMMANDS.find((c) => c.name === `${first} ${second}`) ?? COMMANDS.find((c) => c.name === first);
  if (match) return { command: match, rest: argv.slice(match.name.split(' ').length) };
  const actions = COMMANDS.filter((c) => c.name.startsWith(`${first} `)).map((c) => c.name.split(' ')[1]);
  if (actions.length > 0) {
    throw new UsageError(second === '' || second.startsWith('-') ? `"${first}" needs one of: ${actions.join(', ')}` : `unknown command "${first} ${second}"`);
  }
  throw new UsageError(`unknown command "${first}"`);
}

/** Options error messages from node:util name the option already; drop Node's advice about positionals. */
function parseError(err: unknown, command: string): UsageError {
  const message = err instanceof Error ? err.message.split('. To specify a positional')[0] : String(err);
  return new UsageError(message ?? 'invalid arguments', command);
}

/**
 * Runs one CLI invocation and returns its exit code; never throws. Output goes to `io`, the
 * environment is read only when a command needs the database.
 */
export async function runCli(argv: readonly string[], io: CliIO, env: Record<string, string | undefined>): Promise<number> {
  const json = argv.includes('--json');
  const out = new Output(io, json);
  let runtime: Promise<CliRuntime> | undefined;
  let command: Command | undefined;
  try {
    if (argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
      io.stdout.write(fullUsage(COMMANDS));
      return EXIT.OK;
    }
    const found = findCommand(argv);
    command = found.command;
    let values: OptionValues;
    try {
      values = parseArgs({
        args: found.rest,
        options: { ...command.options, json: bool, help: { type: 'boolean', short: 'h' } },
        strict: true,
        allowPositionals: false,
      }).values as OptionValues;
    } catch (err) {
      throw parseError(err, command.name);
    }
    if (values.help === true) {
      io.stdout.write(commandUsage(command));
      return EXIT.OK;
    }
    const open = async (options = { redis: false }) => {
      const { openCliRuntime } = await import('./cli-runtime.js');
      runtime ??= openCliRuntime(env, options);
      return runtime;
    };
    return await command.run({ args: new Args(values, command.name), out, runtime: open });
  } catch (err) {
    return report(err, out, command);
  } finally {
    if (runtime) await (await runtime.catch(() => undefined))?.close();
  }
}

function report(err: unknown, out: Output, command: Command | undefined): number {
  if (err instanceof UsageError) {
    const usage = err.command && command ? commandUsage(command) : fullUsage(COMMANDS);
    out.io.stderr.write(`wxlive: ${err.message}\n\n${usage}${err.command ? '\nRun "wxlive --help" for every command.\n' : ''}`);
    return EXIT.USAGE;
  }
  const known = err instanceof ConfigError || err instanceof DomainError || err instanceof CliError;
  const code = err instanceof DomainError || err instanceof CliError ? err.code : err instanceof ConfigError ? 'CONFIG_ERROR' : 'ERROR';
  // Unknown errors (a driver's, a bug) keep their message but not their stack: the CLI is for operators.
  const message = err instanceof Error ? err.message : String(err);
  out.io.stderr.write(`wxlive: ${known ? '' : 'error: '}${message}\n`);
  if (out.json) out.io.stdout.write(`${JSON.stringify({ error: { code, message } })}\n`);
  return EXIT.ERROR;
}
