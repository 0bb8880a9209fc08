#!/usr/bin/env node
/** `wxlive`: the operator's command line (see `wxlive --help`). */
import { runCli } from './run-cli.js';

const code = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }, process.env);
process.exitCode = code;
// Everything is closed by now; if a stray handle (a driver's timer) lingers, do not hang the shell.
setTimeout(() => process.exit(code), 2000).unref();
