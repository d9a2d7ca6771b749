/**
 * The `tornlab` command. Each subcommand lives in its own module under
 * src/cli/commands and registers itself here. Errors the user can fix exit 2
 * with the message alone; findings exit 1; everything else exits 1 with a stack.
 */
import { Command, CommanderError } from 'commander';
import { isUserError } from '../util/errors';
import { haltIfInterrupted } from '../export/teardown';
import { TOOL_VERSION } from '../util/version';
import { registerDeviceCommands } from './commands/device';
import { registerCampaignCommands } from './commands/campaign';
import { registerReportCommands } from './commands/report';
import { registerSqliteCommands } from './commands/sqlite';
import { registerExecCommands } from './commands/exec';
import { registerPgCommands } from './commands/pg';
import { registerDoctorCommands } from './commands/doctor';
import { registerDurabilityCommands } from './commands/durability';

export const EXIT_OK = 0;
export const EXIT_FINDING = 1;
export const EXIT_BAD_INPUT = 2;

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('tornlab')
    .description('Testbed for database torn-write protection on an emulated NVMe device')
    .version(TOOL_VERSION)
    .showHelpAfterError()
    .exitOverride();
  registerDeviceCommands(program);
  registerCampaignCommands(program);
  registerReportCommands(program);
  registerSqliteCommands(program);
  registerExecCommands(program);
  registerPgCommands(program);
  registerDoctorCommands(program);
  registerDurabilityCommands(program);
  return program;
}

/** Run the CLI; resolves to the process exit status. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT_OK;
  } catch (e) {
    // A step the SIGINT/SIGTERM teardown pulled the resources from failed: the teardown ends the process (128+signal).
    await haltIfInterrupted();
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT_OK;
      return EXIT_BAD_INPUT; // commander already printed the message
    }
    if (isUserError(e)) {
      process.stderr.write(`tornlab: ${(e as Error).message}\n`);
      return EXIT_BAD_INPUT;
    }
    process.stderr.write(`tornlab: internal error: ${(e as Error).stack ?? String(e)}\n`);
    return EXIT_FINDING;
  }
}

if (require.main === module || process.argv[1]?.endsWith('bin/tornlab')) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`tornlab: ${String(e)}\n`);
      process.exit(1);
    },
  );
}
