/**
 * The tool's own image (docker/Dockerfile): FROM the local bookworm base
 * image, with the host's node binary and this tree's dist/ and node_modules/
 * copied in. No registry, no npm ci inside. The build context is a tar made
 * here (so the node binary can join it), streamed to `docker build -`.
 *
 * Invariant: the tag is a hash of what went in (base tag, node binary size
 * and version, package-lock.json, every file under dist/), so an unchanged
 * tree reuses the image and a rebuilt one gets a new tag.
 */
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DOCKER_SOCKET, dockerCli } from './dockerd';
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
  return { tag, how: 'built', ms: Date.now() - t0 };
}
