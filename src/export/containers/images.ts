/**
 * Database images built without any registry: a Debian root file system made
 * by debootstrap from the Debian mirror apt already uses, imported into our
 * daemon (`docker import`), tagged by a hash of its recipe.
 *
 * One debootstrap per recipe (a suite and its packages); several images share
 * a recipe (PostgreSQL 15 and SQLite are one bookworm root). Each recipe's
 * root is kept as a tar in IMAGE_CACHE (a folder no clone owns), so a lost
 * data root costs an import (seconds), not a debootstrap (a minute or two).
 *
 * Invariants:
 * 1. A tag names exactly one recipe: `tornlab/<image>:<hash12>`, the hash over
 *    the recipe's suite, packages, mirror, architecture and RECIPE_FORMAT.
 * 2. A cached tar is complete: written under a temporary name, renamed last.
 * 3. Nothing is pulled: a missing image is built or reported missing.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { run, sleep } from '../exec';
import { pidAlive } from '../ledger';
import { docker } from './dockerd';

export const IMAGE_CACHE = process.env.TORNLAB_IMAGE_CACHE ?? '/var/cache/tornlab/images';
const DEB_CACHE = path.join(path.dirname(IMAGE_CACHE), 'debs');
/** Bump when the way a root is made changes (so old tags are not reused). */
const RECIPE_FORMAT = 1;

export type Suite = 'bookworm' | 'trixie' | 'sid';

export interface Recipe {
  name: string;
  suite: Suite;
  packages: string[];
}

export const RECIPES: Record<string, Recipe> = {
  'bookworm-pg': { name: 'bookworm-pg', suite: 'bookworm', packages: ['postgresql-15', 'sqlite3'] },
  'bookworm-mariadb': { name: 'bookworm-mariadb', suite: 'bookworm', packages: ['mariadb-server'] },
  trixie: { name: 'trixie', suite: 'trixie', packages: ['postgresql-17', 'mariadb-server'] },
  sid: { name: 'sid', suite: 'sid', packages: ['postgresql-18'] },
};

export type ImageName = 'pg15' | 'pg17' | 'pg18' | 'sqlite' | 'mariadb10.11' | 'mariadb11.8';

export interface ImageSpec {
  name: ImageName;
  recipe: string;
  /** What it runs: PostgreSQL's major version, SQLite, MariaDB's version. */
  engine: 'postgres' | 'sqlite' | 'mariadb';
  version: string;
}

export const IMAGES: Record<ImageName, ImageSpec> = {
  pg15: { name: 'pg15', recipe: 'bookworm-pg', engine: 'postgres', version: '15' },
  pg17: { name: 'pg17', recipe: 'trixie', engine: 'postgres', version: '17' },
  pg18: { name: 'pg18', recipe: 'sid', engine: 'postgres', version: '18' },
  sqlite: { name: 'sqlite', recipe: 'bookworm-pg', engine: 'sqlite', version: '3' },
  'mariadb10.11': { name: 'mariadb10.11', recipe: 'bookworm-mariadb', engine: 'mariadb', version: '10.11' },
  'mariadb11.8': { name: 'mariadb11.8', recipe: 'trixie', engine: 'mariadb', version: '11.8' },
};

export const PG_VERSIONS = ['15', '17', '18'] as const;
export type PgVersion = (typeof PG_VERSIONS)[number];

export function pgImage(version: string): ImageSpec {
  const spec = IMAGES[`pg${version}` as ImageName];
  if (!spec || spec.engine !== 'postgres') throw new Error(`no PostgreSQL ${version} image (have ${PG_VERSIONS.join(', ')})`);
  return spec;
}

/** The Debian mirror apt uses on this machine (deb822 or one-line sources). */
export function debianMirror(): string | undefined {
  const files = ['/etc/apt/sources.list'];
  try {
    for (const f of fs.readdirSync('/etc/apt/sources.list.d')) files.push(path.join('/etc/apt/sources.list.d', f));
  } catch {
    // none
  }
  for (const f of files) {
    let text = '';
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const m = /^URIs:\s*(\S+)/.exec(line) ?? /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+\s+main/.exec(line);
      if (m && !/security/.test(m[1])) return m[1].replace(/\/$/, '');
    }
  }
  return undefined;
}

function arch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch === 'arm64' ? 'arm64' : process.arch;
}

export function recipeHash(r: Recipe, mirror: string): string {
  const key = JSON.stringify({ f: RECIPE_FORMAT, suite: r.suite, packages: [...r.packages].sort(), mirror, arch: arch() });
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}

/** The tag of an image on this machine's mirror (invariant 1). */
export function imageTag(spec: ImageSpec, mirror = debianMirror() ?? 'none'): string {
  return `tornlab/${spec.name}:${recipeHash(RECIPES[spec.recipe], mirror)}`;
}

export async function imageExists(tag: string): Promise<boolean> {
  return (await docker(['image', 'inspect', '--format', '{{.Id}}', tag], 30_000)).code === 0;
}

/** Labels of an image (uid/gid of the database users are recorded at import). */
export async function imageLabels(tag: string): Promise<Record<string, string>> {
  const r = await docker(['image', 'inspect', '--format', '{{json .Config.Labels}}', tag], 30_000);
  if (r.code !== 0) throw new Error(`image ${tag} is missing: run \`tornlab containers setup\``);
  return (JSON.parse(r.stdout.trim() || '{}') as Record<string, string> | null) ?? {};
}

function userIds(root: string, user: string): { uid: number; gid: number } | undefined {
  try {
    for (const line of fs.readFileSync(path.join(root, 'etc/passwd'), 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === user) return { uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch {
    // no passwd
  }
  return undefined;
}

export type Progress = (line: string) => void;

/** debootstrap a recipe's root and write it as a tar into the cache (invariant 2). */
async function bootstrap(r: Recipe, mirror: string, tarFile: string, say: Progress): Promise<{ ms: number; labels: string[] }> {
  const t0 = Date.now();
  const root = `${tarFile}.root`;
  fs.rmSync(root, { recursive: true, force: true });
  fs.mkdirSync(DEB_CACHE, { recursive: true });
  say(`${r.name}: debootstrap ${r.suite} with ${r.packages.join(', ')} from ${mirror}`);
  try {
    const b = await run('debootstrap', ['--variant=minbase', `--include=${r.packages.join(',')}`, `--cache-dir=${DEB_CACHE}`, r.suite, root, mirror], { timeoutMs: 20 * 60_000 });
    if (b.code !== 0) throw new Error(`debootstrap ${r.suite} failed (exit ${b.code}):\n${(b.stderr + b.stdout).trim().split('\n').slice(-15).join('\n')}`);
    // Packages' caches and lists only cost size and import time.
    for (const d of ['var/cache/apt/archives', 'var/lib/apt/lists', 'usr/share/doc', 'usr/share/man', 'usr/share/locale']) {
      const p = path.join(root, d);
      if (fs.existsSync(p)) for (const n of fs.readdirSync(p)) if (n !== 'partial' && n !== 'lock') fs.rmSync(path.join(p, n), { recursive: true, force: true });
    }
    const labels: string[] = [`tornlab.recipe=${r.name}`, `tornlab.suite=${r.suite}`];
    for (const u of ['postgres', 'mysql']) {
      const id = userIds(root, u);
      if (id) labels.push(`tornlab.${u}.uid=${id.uid}`, `tornlab.${u}.gid=${id.gid}`);
    }
    const tmp = `${tarFile}.tmp`;
    const t = await run('tar', ['-C', root, '--numeric-owner', '-cf', tmp, '.'], { timeoutMs: 10 * 60_000 });
    if (t.code !== 0) throw new Error(`tar of ${root} failed: ${t.stderr.trim()}`);
    fs.writeFileSync(`${tarFile}.labels`, labels.join('\n') + '\n');
    fs.renameSync(tmp, tarFile);
    return { ms: Date.now() - t0, labels };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

export interface ImageBuild {
  image: ImageName;
  tag: string;
  /** reused: the daemon had it; imported: from the cached tar; built: debootstrap first. */
  how: 'reused' | 'imported' | 'built';
  ms: number;
}

/**
 * Make sure the images exist in our daemon: reuse, import from the cached
 * tar, or debootstrap (recipes in parallel). Idempotent.
 */
export async function ensureImages(names: readonly ImageName[], say: Progress = () => undefined): Promise<ImageBuild[]> {
  const mirror = debianMirror();
  if (!mirror) throw new Error('no Debian mirror in /etc/apt/sources.list(.d): the images are built from the Debian archive apt uses');
  fs.mkdirSync(IMAGE_CACHE, { recursive: true });
  const unlock = await lockCache(say);
  try {
    return await ensureLocked(names, mirror, say);
  } finally {
    unlock();
  }
}

/** One setup at a time builds (two debootstraps into one deb cache break each other). */
async function lockCache(say: Progress, timeoutMs = 30 * 60_000): Promise<() => void> {
  const lock = path.join(IMAGE_CACHE, '.lock');
  const t0 = Date.now();
  let told = false;
  for (;;) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return () => fs.rmSync(lock, { force: true });
    } catch {
      const holder = Number(fs.readFileSync(lock, 'utf8').trim() || '0');
      if (!(holder > 0 && pidAlive(holder))) {
        fs.rmSync(lock, { force: true });
        continue;
      }
      if (!told) say(`waiting for the image build of process ${holder} (${lock})`);
      told = true;
      if (Date.now() - t0 > timeoutMs) throw new Error(`the image cache is locked by process ${holder} (${lock})`);
      await sleep(500);
    }
  }
}

async function ensureLocked(names: readonly ImageName[], mirror: string, say: Progress): Promise<ImageBuild[]> {
  const out: ImageBuild[] = [];
  const wanted = names.map((n) => IMAGES[n]);
  const missing: ImageSpec[] = [];
  for (const s of wanted) {
    const t0 = Date.now();
    const tag = imageTag(s, mirror);
    if (await imageExists(tag)) out.push({ image: s.name, tag, how: 'reused', ms: Date.now() - t0 });
    else missing.push(s);
  }
  const recipes = [...new Set(missing.map((s) => s.recipe))];
  const tarOf = (rn: string) => path.join(IMAGE_CACHE, `${rn}-${recipeHash(RECIPES[rn], mirror)}.tar`);
  const built = new Map<string, number>();
  await Promise.all(
    recipes.map(async (rn) => {
      if (fs.existsSync(tarOf(rn)) && fs.existsSync(`${tarOf(rn)}.labels`)) return;
      const b = await bootstrap(RECIPES[rn], mirror, tarOf(rn), say);
      built.set(rn, b.ms);
      say(`${rn}: root file system ready in ${(b.ms / 1000).toFixed(0)} s`);
    }),
  );
  // One import per recipe; the other images of the recipe are tags of the same image.
  const imported = new Map<string, string>();
  for (const s of missing) {
    const t0 = Date.now();
    const tag = imageTag(s, mirror);
    const first = imported.get(s.recipe);
    if (first) {
      const r = await docker(['tag', first, tag], 60_000);
      if (r.code !== 0) throw new Error(`docker tag ${first} ${tag} failed: ${r.stderr.trim()}`);
    } else {
      const labels = fs.readFileSync(`${tarOf(s.recipe)}.labels`, 'utf8').split('\n').filter(Boolean);
      const args = ['import', ...labels.flatMap((l) => ['--change', `LABEL ${l}`]), '--change', 'ENV LANG=C.UTF-8', tarOf(s.recipe), tag];
      const r = await docker(args, 10 * 60_000);
      if (r.code !== 0) throw new Error(`docker import of ${tarOf(s.recipe)} as ${tag} failed: ${r.stderr.trim()}`);
      imported.set(s.recipe, tag);
    }
    const how = built.has(s.recipe) ? 'built' : 'imported';
    const ms = Date.now() - t0 + (built.get(s.recipe) ?? 0);
    say(`${s.name}: ${tag} ${how} in ${(ms / 1000).toFixed(1)} s`);
    out.push({ image: s.name, tag, how, ms });
  }
  return out;
}
