/** `tornlab profiles`, `tornlab identify`: what the emulated devices are. */
import { Command } from 'commander';
import { DEFAULT_LINUX_KERNEL, LINUX_KERNELS, formatIdentify, linuxAtomicLimits, normalAtomicity, powerFailAtomicity } from '../../device/identify';
import { DEFAULT_PROFILE, FAULT_HELP, FAULT_NAMES, PROFILES, getProfile } from '../../device/profiles';

export function registerDeviceCommands(program: Command): void {
  program
    .command('profiles')
    .description('list the device profiles and fault switches')
    .option('--json', 'print as JSON')
    .action((opts: { json?: boolean }) => {
      if (opts.json) {
        process.stdout.write(JSON.stringify({ profiles: Object.values(PROFILES), faults: FAULT_HELP }, null, 2) + '\n');
        return;
      }
      const lines = ['Profiles:'];
      for (const p of Object.values(PROFILES)) {
        const a = powerFailAtomicity(p.identify);
        const bs = p.identify.namespace.lbaDataSize;
        lines.push(`  ${p.name.padEnd(18)} v${p.version}  ${bs} B LBA, power-fail atomic ${a.unitBlocks * bs} B, ${p.plp ? 'PLP' : p.identify.controller.vwc.present ? 'volatile cache' : 'no cache'}`);
        lines.push(`  ${''.padEnd(18)}     ${p.description}`);
      }
      lines.push('', 'Faults (--fault NAME, repeatable):');
      for (const f of FAULT_NAMES) lines.push(`  ${f.padEnd(26)} ${FAULT_HELP[f]}`);
      process.stdout.write(lines.join('\n') + '\n');
    });

  program
    .command('identify')
    .description('print the identify data of a profile, like nvme id-ctrl / id-ns, and what Linux advertises')
    .option('--profile <name>', 'device profile', DEFAULT_PROFILE)
    .option('--json', 'print as JSON')
    .action((opts: { profile: string; json?: boolean }) => {
      const p = getProfile(opts.profile);
      if (opts.json) {
        const out = {
          profile: p.name,
          version: p.version,
          identify: p.identify,
          powerFailAtomicity: powerFailAtomicity(p.identify),
          normalAtomicity: normalAtomicity(p.identify),
          // The default kernel behaviour, and every modelled one by name.
          linux: linuxAtomicLimits(p.identify, DEFAULT_LINUX_KERNEL),
          linuxByKernel: Object.fromEntries(LINUX_KERNELS.map((k) => [k, linuxAtomicLimits(p.identify, k)])),
        };
        process.stdout.write(JSON.stringify(out, null, 2) + '\n');
        return;
      }
      process.stdout.write(formatIdentify(p.identify, p.name) + '\n');
    });
}
