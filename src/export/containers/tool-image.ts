/**
 * The tool's own image (docker/Dockerfile): FROM the local bookworm base
 * image, with the host's node binary and this tree's dist/ and node_modules/
 * copied in. No registry, no npm ci inside. The build context is a tar made
 * here (so the node binary can join it), streamed to `docker build -`.
 *
 * Invariants:
 *  1. The tag is a hash of what went in (base tag, node binary size and
 *     version, package-lock.json, every file under dist/), so an unchanged
 *     tree reuses the image and a rebuilt one gets a new tag.
 *  2. Each tree is a new ~650 MB image, so a machine that runs CI for many
 *     trees would fill its disk: after a build, tool images beyond the newest
 *     TOOL_IMAGES_KEPT are removed, but never one younger than
 *     TOOL_IMAGE_MIN_AGE_MS (another clone on this machine may have just
 *     built it and be about to run it) and never one a container uses
 *     (docker refuses to remove it; that is left as it is). Only images with
 *     tornlab's tool label on tornlab's own dockerd are looked at.
 */
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DOCKER_SOCKET, docker, dockerCli } from './dockerd';
import { IMAGES, imageExists, imageTag } from './images';

function hashTree(h: ReturnType<typeof createHash>, dir: string): void {
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) hashTree(h, p);
    else if (e.isFile()) h.update(p).update(fs.readFileSync(p));
  }
}

export function toolImageTag(repo: string): string {
  const h = createHash('sha256');
  h.update(imageTag(IMAGES.pg15)).update(process.version).update(String(fs.statSync(process.execPath).size));
  h.update(fs.readFileSync(path.join(repo, 'package-lock.json'))).update(fs.readFileSync(path.join(repo, 'docker/Dockerfile')));
  hashTree(h, path.join(repo, 'dist'));
  return `tornlab/tool:${h.digest('hex').slice(0, 12)}`;
}

export const TOOL_IMAGES_KEPT = 3;
export const TOOL_IMAGE_MIN_AGE_MS = 6 * 3600_000;

/** Which tool images to remove (invariant 2): all but `current`, the newest `kept`, and those younger than `minAgeMs`. */
export function toolImagesToPrune(images: readonly { ref: string; createdMs: number }[], current: string, nowMs: number, kept = TOOL_IMAGES_KEPT, minAgeMs = TOOL_IMAGE_MIN_AGE_MS): string[] {
  const byAge = images.filter((i) => i.ref !== current).sort((a, b) => b.createdMs - a.createdMs);
  return byAge.slice(Math.max(0, kept - 1)).filter((i) => nowMs - i.createdMs >= minAgeMs).map((i) => i.ref);
}

/** Remove old tool images (invariant 2); returns the ones removed. Best effort: a refusal leaves the image. */
export async function pruneToolImages(current: string): Promise<string[]> {
  const r = await docker(['images', '--filter', 'label=tornlab.image=tool', '--format', '{{.Repository}}:{{.Tag}}\t{{.CreatedAt}}'], 30_000);
  if (r.code !== 0) return [];
  const images = r.stdout
    .split('\n')
    .map((l) => l.split('\t'))
    .filter((f) => f.length === 2 && f[0].startsWith('tornlab/tool:'))
    // CreatedAt reads "2026-12-03 06:12:01 +0000 UTC": the part before the zone name parses.
    .map(([ref, at]) => ({ ref, createdMs: Date.parse(at.replace(/ [A-Z]+$/, '').replace(' ', 'T').replace(' ', '')) }))
    .filter((i) => Number.isFinite(i.createdMs));
  const removed: string[] = [];
  for (const ref of toolImagesToPrune(images, current, Date.now())) if ((await docker(['rmi', ref], 120_000)).code === 0) removed.push(ref);
  return removed;
}

/** Build (or reuse) the tool image from the repository at `repo` (built: dist/ must exist). */
export async function ensureToolImage(repo: string, say: (l: string) => void): Promise<{ tag: string; how: 'reused' | 'built'; ms: number }> {
  const t0 = Date.now();
  if (!fs.existsSync(path.join(repo, 'dist/src/cli/main.js'))) throw new Error(`${repo}/dist is missing: npm run build first`);
  const tag = toolImageTag(repo);
  if (await imageExists(tag)) return { tag, how: 'reused', ms: Date.now() - t0 };
  const base = imageTag(IMAGES.pg15);
  if (!(await imageExists(base))) throw new Error(`the base image ${base} is missing: tornlab containers setup --images pg15`);
  say(`tool: building ${tag} from ${base}`);
  // The context: the tree's parts plus the node binary as .node/node (tar renames just that member).
  const tar = spawn('tar', ['-c', '--transform', 's,^node$,.node/node,', '-C', repo, 'package.json', 'bin', 'node_modules', 'dist', 'docker/Dockerfile', '-C', path.dirname(process.execPath), path.basename(process.execPath)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const build = spawn(dockerCli(), ['-H', `unix://${DOCKER_SOCKET}`, 'build', '-q', '-f', 'docker/Dockerfile', '--build-arg', `BASE=${base}`, '--label', 'tornlab.image=tool', '-t', tag, '-'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, DOCKER_BUILDKIT: '0' } });
  tar.stdout.pipe(build.stdin);
  let err = '';
  tar.stderr.on('data', (d: Buffer) => (err += d.toString()));
  build.stderr.on('data', (d: Buffer) => (err += d.toString()));
  build.stdout.on('data', () => undefined);
  const code = await new Promise<number | null>((r) => build.on('close', (c) => r(c)));
  if (code !== 0) throw new Error(`docker build of ${tag} failed (exit ${code}): ${err.trim().slice(-2000)}`);
  const removed = await pruneToolImages(tag);
  if (removed.length) say(`tool: removed ${removed.length} older tool image(s): ${removed.join(', ')}`);
  return { tag, how: 'built', ms: Date.now() - t0 };
}
