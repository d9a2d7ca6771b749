/**
 * The `tornlab` command. Each subcommand lives in its own module under
 * src/cli/commands and registers itself here.
 *
 * Exit status (src/cli/exit-codes.ts): 0 nothing to report; 1 a finding (a
 * protection failed); 2 errors the user can fix, printed with the message
 * alone; 3 harness error: a crash state the testbed failed to judge, or an
 * internal error (any other exception), printed as `tornlab: harness-error: ...`
 * in one line; the stack of an unexpected error only with `--debug` (anywhere
 * on the command line) or TORNLAB_DEBUG=1. With both a finding and a harness
 * error, 3 wins: the run's result is not complete enough to act on. 4 not
 * covered: no finding and no harness error, but a pass that proves nothing (a
 * crash window never hit, a positive control not caught).
 *
 * Output is complete before the process ends (src/util/output.ts): the status
 * is set, stdout and stderr are flushed, and only then may the process end.
 */
import { Command, CommanderError } from 'commander';
import { isHarnessError, isUserError } from '../util/errors';
import { exitWhenFlushed, tolerateClosedReader } from '../util/output';
import { haltIfInterrupted, interrupted } from '../export/teardown';
import { TOOL_VERSION } from '../util/version';
import { EXIT_BAD_INPUT, EXIT_FINDING, EXIT_HARNESS, EXIT_NOT_COVERED, EXIT_OK } from './exit-codes';
import { registerDeviceCommands } from './commands/device';
import { registerCampaignCommands } from './commands/campaign';
import { registerReportCommands } from './commands/report';
import { registerSqliteCommands } from './commands/sqlite';
import { registerExecCommands } from './commands/exec';
import { registerPgCommands } from './commands/pg';
import { registerMariadbCommands } from './commands/mariadb';
import { registerDoctorCommands } from './commands/doctor';
import { registerDurabilityCommands } from './commands/durability';
import { registerContainersCommands } from './commands/containers';

export { EXIT_OK, EXIT_FINDING, EXIT_BAD_INPUT, EXIT_HARNESS, EXIT_NOT_COVERED };

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('tornlab')
    .description('Testbed for database torn-write protection on an emulated NVMe device')
    .version(TOOL_VERSION)
    .showHelpAfterError()
    .exitOverride()
    .addHelpText('after', '\nExit status: 0 ok, 1 a finding (a protection failed), 2 bad input or a missing precondition, 3 harness error (the testbed failed; wins over 1),\n4 not covered. --debug (with any command) prints the stack of an unexpected error.');
  registerDeviceCommands(program);
  registerCampaignCommands(program);
  registerReportCommands(program);
  registerSqliteCommands(program);
  registerExecCommands(program);
  registerPgCommands(program);
  registerMariadbCommands(program);
  registerDoctorCommands(program);
  registerDurabilityCommands(program);
  registerContainersCommands(program);
  return program;
}

/** `--debug` (before any `--`) or TORNLAB_DEBUG=1: print the stack of an unexpected error. */
let debug = process.env.TORNLAB_DEBUG === '1';

/** argv without `--debug`, which turns debug output on (it is accepted by every command). */
export function takeDebugFlag(argv: string[]): string[] {
  const end = argv.indexOf('--');
  const head = end < 0 ? argv : argv.slice(0, end);
  if (!head.includes('--debug')) return argv;
  debug = true;
  return [...head.filter((a) => a !== '--debug'), ...(end < 0 ? [] : argv.slice(end))];
}

/** The message and status of an error that ended a command. */
export function describeFailure(e: unknown): { status: number; message?: string } {
  if (e instanceof CommanderError) {
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return { status: EXIT_OK };
    return { status: EXIT_BAD_INPUT }; // commander already printed the message
  }
  if (isUserError(e)) return { status: EXIT_BAD_INPUT, message: `tornlab: ${e.message}\n` };
  if (isHarnessError(e)) return { status: EXIT_HARNESS, message: `tornlab: harness-error: ${e.phase}: ${e.message}\n` };
  const text = e instanceof Error ? (debug ? (e.stack ?? e.message) : `${e.name}: ${e.message.split('\n')[0]} (run again with --debug for the stack)`) : String(e);
  return { status: EXIT_HARNESS, message: `tornlab: harness-error: internal error: ${text}\n` };
}

/** Run the CLI; resolves to the process exit status. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(takeDebugFlag(argv), { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT_OK;
  } catch (e) {
    // A step the SIGINT/SIGTERM teardown pulled the resources from failed: the teardown ends the process (128+signal).
    await haltIfInterrupted();
    const f = describeFailure(e);
    if (f.message) process.stderr.write(f.message);
    return f.status;
  }
}

/** An error nothing caught (a callback that threw, a rejection nobody awaited): exit 3, never Node's default 1. */
function fatal(e: unknown): void {
  process.stderr.write(describeFailure(e).message ?? `tornlab: harness-error: ${String(e)}\n`);
  // Once a SIGINT/SIGTERM teardown runs, it owns the exit (128+signal): errors it causes must not race it.
  if (interrupted()) return;
  void exitWhenFlushed(EXIT_HARNESS, undefined, 0);
}

if (require.main === module || process.argv[1]?.endsWith('bin/tornlab')) {
  tolerateClosedReader(process.stdout, process.stderr);
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  main(process.argv.slice(2)).then(async (code) => {
    await haltIfInterrupted();
    return exitWhenFlushed(code);
  }, fatal);
}
