import type { Command } from './command.js';

const FOOTER = `Every command also takes --json (print one JSON object on stdout) and --help.
From a clone of the repository, run it as \`npm run cli -- <command> ...\` (or \`npm link\` once, then \`wxlive\`).

Environment: DATABASE_URL (postgres://, required), SECRET_KEYS or SECRET_KEY (required, the gateway's keys),
REDIS_URL and REDIS_PREFIX (used by apply), LOG_LEVEL.

Exit status: 0 done; 1 error (message on stderr); 2 bad arguments;
3 apply finished but some rows were refused (listed in the summary).`;

export function commandUsage(command: Command): string {
  return `Usage: wxlive ${command.name} ${command.synopsis}${command.synopsis ? ' ' : ''}[--json]\n\n  ${command.summary}\n`;
}

export function fullUsage(commands: readonly Command[]): string {
  const lines = commands.map((c) => `  wxlive ${c.name}${c.synopsis ? ` ${c.synopsis}` : ''}\n      ${c.summary}`);
  return `Usage: wxlive <command> [options]\n\nCommands:\n${lines.join('\n')}\n\n${FOOTER}\n`;
}
