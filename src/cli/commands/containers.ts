/** `tornlab containers setup|status|stop`: the tornlab-owned container engine and its images. */
import { Command } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureToolImage } from '../../export/containers/tool-image';
import { BadInputError, PreconditionError } from '../../util/errors';
import { run } from '../../export/exec';
import { DOCKER_SOCKET, engineStatus, missingForEngine, startEngine, stopEngine } from '../../export/containers/dockerd';
import { IMAGES, ImageName, debianMirror, ensureImages, imageExists, imageTag } from '../../export/containers/images';
import { formatMissing } from '../../export/preconditions';

const ALL_IMAGES = Object.keys(IMAGES) as ImageName[];

export function parseImages(text: string | undefined): ImageName[] {
  if (text === undefined || text === 'all') return ALL_IMAGES;
  const out: ImageName[] = [];
  for (const n of text.split(',').map((x) => x.trim()).filter(Boolean)) {
    if (!(n in IMAGES)) throw new BadInputError(`--images: unknown image "${n}" (known: ${ALL_IMAGES.join(', ')}, or all)`);
    out.push(n as ImageName);
  }
  if (out.length === 0) throw new BadInputError('--images: name at least one image');
  return out;
}

/** Install Debian packages a setup needs when they are missing (apt-get, no recommends). */
async function installMissing(say: (l: string) => void): Promise<void> {
  const need: string[] = [];
  if (!fs.existsSync('/usr/sbin/dockerd')) need.push('docker.io');
  if (!fs.existsSync('/usr/sbin/debootstrap')) need.push('debootstrap');
  if (need.length === 0) return;
  say(`installing ${need.join(', ')} from Debian`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const u = await run('apt-get', ['update', '-qq'], { timeoutMs: 10 * 60_000, env });
  if (u.code !== 0) throw new PreconditionError(`apt-get update failed, so ${need.join(', ')} cannot be installed (no Debian archive reachable?):\n${u.stderr.trim().slice(0, 1500)}`);
  const i = await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...need], { timeoutMs: 15 * 60_000, env });
  if (i.code !== 0) throw new PreconditionError(`apt-get install ${need.join(' ')} failed:\n${(i.stderr || i.stdout).trim().slice(-1500)}`);
}

export function registerContainersCommands(program: Command): void {
  const c = program.command('containers').description('the container runtime: a tornlab-owned dockerd and database images built from the Debian archive (no registry)');
  c.command('setup')
    .description('install docker.io and debootstrap when missing, start tornlab\'s dockerd, build or reuse the images')
    .option('--images <list>', `images to make, comma-separated: ${ALL_IMAGES.join(', ')}, or all`, 'all')
    .option('--tool', 'also build the tool\'s own image (docker/Dockerfile) from the pg15 base and this tree\'s dist/')
    .action(async (o: { images: string; tool?: boolean }) => {
      const images = parseImages(o.images);
      const t0 = Date.now();
      const say = (l: string) => process.stderr.write(`containers: ${l}\n`);
      if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new PreconditionError('tornlab containers setup needs root (it installs packages, starts dockerd and runs debootstrap)');
      if (!debianMirror()) throw new PreconditionError('no Debian archive in /etc/apt/sources.list(.d): the images are built from the mirror apt uses');
      await installMissing(say);
      const missing = missingForEngine();
      if (missing.length) throw new PreconditionError(formatMissing(missing, 'the container runtime'));
      const e = await startEngine();
      say(e.started ? `dockerd started (pid ${e.pid}, ${DOCKER_SOCKET}) in ${e.ms} ms` : `dockerd already running (pid ${e.pid})`);
      const built = await ensureImages(o.tool && !images.includes('pg15') ? [...images, 'pg15'] : images, say);
      for (const b of built) process.stdout.write(`${b.image.padEnd(13)} ${b.tag.padEnd(32)} ${b.how} (${(b.ms / 1000).toFixed(1)} s)\n`);
      if (o.tool) {
        const t = await ensureToolImage(path.resolve(__dirname, '../../../..'), say);
        process.stdout.write(`${'tool'.padEnd(13)} ${t.tag.padEnd(32)} ${t.how} (${(t.ms / 1000).toFixed(1)} s)\n`);
      }
      process.stdout.write(`setup done in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    });
  c.command('status')
    .description('is tornlab\'s dockerd running, which images exist')
    .option('--json', 'print as JSON')
    .action(async (o: { json?: boolean }) => {
      const st = await engineStatus();
      const images: Record<string, string | null> = {};
      if (st.running) for (const n of ALL_IMAGES) images[n] = (await imageExists(imageTag(IMAGES[n]))) ? imageTag(IMAGES[n]) : null;
      if (o.json) {
        process.stdout.write(JSON.stringify({ engine: st, images }, null, 2) + '\n');
        return;
      }
      process.stdout.write(st.running ? `dockerd ${st.version} running, pid ${st.pid}, socket ${st.socket}, data root ${st.dataRoot}\n` : 'tornlab\'s dockerd is not running (tornlab containers setup starts it)\n');
      for (const [n, t] of Object.entries(images)) process.stdout.write(`  ${n.padEnd(13)} ${t ?? 'missing'}\n`);
    });
  c.command('stop')
    .description('remove tornlab\'s containers and stop tornlab\'s dockerd (the images stay)')
    .action(async () => {
      process.stdout.write((await stopEngine()) ? 'dockerd stopped\n' : 'tornlab\'s dockerd was not running\n');
    });
}
