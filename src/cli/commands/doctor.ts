/** `tornlab doctor [--cleanup]`: leftovers (mounts, loop devices, processes) of tornlab runs that were killed. */
import { Command } from 'commander';
import { cleanupLeftovers, containerLeftovers, listLeftovers, waitForPidExit } from '../../export/doctor';
import { ourDaemonPid, stopEngine } from '../../export/containers/dockerd';
import { BadInputError } from '../../util/errors';
import { EXIT_HARNESS, EXIT_OK } from '../exit-codes';

interface DoctorOpts {
  cleanup?: boolean;
  run?: string;
  afterPid?: string;
  json?: boolean;
}

export function registerDoctorCommands(program: Command): void {
  program
    .command('doctor')
    .description('list what runs that were killed left behind (only resources tornlab marked as its own); --cleanup releases them')
    .option('--cleanup', 'kill leftover processes, unmount, detach loop devices, remove run folders')
    .option('--run <id>', 'only this run')
    .option('--after-pid <pid>', 'first wait for this process to end (used by a run that exits with resources held)')
    .option('--json', 'print as JSON')
    .action(async (o: DoctorOpts) => {
      if (o.afterPid !== undefined) {
        if (!/^\d+$/.test(o.afterPid)) throw new BadInputError(`--after-pid must be a process id, got "${o.afterPid}"`);
        await waitForPidExit(Number(o.afterPid));
      }
      const found = listLeftovers({ runId: o.run });
      found.push(...(await containerLeftovers({ runId: o.run }, found)));
      const failed = o.cleanup ? await cleanupLeftovers(found) : [];
      // A full cleanup also stops the dockerd tornlab started (never another daemon).
      if (o.cleanup && o.run === undefined && ourDaemonPid() !== undefined && (await stopEngine())) found.push({ kind: 'process', id: 'dockerd', runId: '-', detail: 'tornlab\'s dockerd, stopped' });
      if (o.json) {
        process.stdout.write(JSON.stringify({ leftovers: found, cleaned: !!o.cleanup, failed }, null, 2) + '\n');
      } else if (found.length === 0) {
        process.stdout.write('no leftovers of tornlab runs\n');
      } else {
        process.stdout.write(`${o.cleanup ? 'released' : 'leftovers'} (${found.length}):\n`);
        for (const l of found) process.stdout.write(`  ${l.kind.padEnd(10)} ${l.id}  run ${l.runId}${l.detail ? `  (${l.detail})` : ''}\n`);
        if (!o.cleanup) process.stdout.write('run `tornlab doctor --cleanup` to release them\n');
        for (const f of failed) process.stdout.write(`  could not release ${f.kind} ${f.id}: ${f.detail ?? ''}\n`);
      }
      // Leftovers it could not release are the testbed failing, not a protection: 3, never 1.
      process.exitCode = failed.length > 0 ? EXIT_HARNESS : EXIT_OK;
    });
}
