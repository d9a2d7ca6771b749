/**
 * The scheduler recipes in docs/recipes: a GitHub Actions workflow (a matrix
 * of shards plus a merge job) and a Kubernetes Indexed Job with its merge Job.
 * They must parse as YAML and carry what the scheduler requires; and their
 * shell steps, run here as the scheduler would run them (the matrix value,
 * JOB_COMPLETION_INDEX, the artifact layout), must produce the report of the
 * unsharded campaign.
 */
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import YAML from 'yaml';

const ROOT = path.join(__dirname, '../..');
const TORNLAB = `${process.execPath} ${path.join(ROOT, 'dist/src/cli/main.js')}`;
const recipe = (f: string) => fs.readFileSync(path.join(ROOT, 'docs/recipes', f), 'utf8');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tornlab-recipes-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const CAMPAIGN = path.join(tmp, 'campaign.yaml');
fs.writeFileSync(CAMPAIGN, YAML.stringify({ name: 'recipe', engine: 'minipage', modes: ['none', 'fpw'], profiles: ['consumer-tlc'], pageSizes: [8192], workloads: [{ name: 'bank', txns: 40 }], keys: 200, frames: 16, checkpointEvery: 15, checkpointBatch: 8, crashes: 30, seed: 3 }));

/** Run a recipe's shell step with sh, as the runner would; returns the exit status. */
function sh(script: string, env: Record<string, string>, cwd: string): number {
  fs.mkdirSync(cwd, { recursive: true });
  const r = spawnSync('sh', ['-e', '-c', script], { cwd, env: { ...process.env, TORNLAB, CAMPAIGN, ...env }, encoding: 'utf8' });
  if (r.status !== 0 && r.status !== 1 && r.status !== 4) throw new Error(`step failed (${r.status}): ${r.stderr}`);
  return r.status!;
}

let whole: string;
beforeAll(() => {
  const dir = path.join(tmp, 'whole');
  sh(`$TORNLAB campaign "$CAMPAIGN" --out "${dir}"`, {}, tmp);
  whole = fs.readFileSync(path.join(dir, 'report.json'), 'utf8');
}, 300_000);
const sameAsWhole = (dir: string) => {
  const strip = (t: string) => t.replace(/"generatedAt": "[^"]+"/, '');
  expect(strip(fs.readFileSync(path.join(dir, 'report.json'), 'utf8'))).toBe(strip(whole));
  expect(fs.existsSync(path.join(dir, 'junit.xml'))).toBe(true);
};

describe('GitHub Actions workflow', () => {
  const wf = YAML.parse(recipe('github-actions.yml'));

  test('parses and carries what Actions requires: triggers, jobs with runs-on and steps, a matrix of shards, a merge job after it', () => {
    expect(wf.on).toBeDefined();
    for (const [name, job] of Object.entries<Record<string, unknown>>(wf.jobs)) {
      expect({ name, runsOn: typeof job['runs-on'] }).toEqual({ name, runsOn: 'string' });
      const steps = job.steps as Record<string, unknown>[];
      expect(steps.length).toBeGreaterThan(0);
      for (const s of steps) expect(typeof s.uses === 'string' || typeof s.run === 'string').toBe(true);
      expect(String((job.container as { image?: string })?.image)).toMatch(/TORNLAB_IMAGE/);
    }
    const { shard, merge } = wf.jobs;
    const ks: number[] = shard.strategy.matrix.shard;
    expect(ks).toEqual(ks.map((_, i) => i + 1));
    expect(shard.strategy['fail-fast']).toBe(false);
    const run = shard.steps.find((s: { run?: string }) => s.run?.includes('--shard'));
    expect(run.env.SHARD).toBe('${{ matrix.shard }}/${{ strategy.job-total }}');
    const upload = shard.steps.find((s: { uses?: string }) => s.uses?.startsWith('actions/upload-artifact@'));
    expect(upload.if).toBe('always()');
    expect(upload.with.name).toContain('${{ matrix.shard }}');
    expect([merge.needs].flat()).toContain('shard');
    expect(merge.if).toBe('always()');
    const download = merge.steps.find((s: { uses?: string }) => s.uses?.startsWith('actions/download-artifact@'));
    expect(upload.with.name.startsWith(download.with.pattern.replace(/\*$/, ''))).toBe(true);
  });

  test('its steps, run as the matrix runs them, give the unsharded report', () => {
    const { shard, merge } = wf.jobs;
    const n = shard.strategy.matrix.shard.length;
    const run = shard.steps.find((s: { run?: string }) => s.run?.includes('--shard'));
    const mergeRun = merge.steps.find((s: { run?: string }) => s.run?.includes('report merge'));
    const work = path.join(tmp, 'gha');
    for (const k of shard.strategy.matrix.shard as number[]) {
      const job = path.join(work, `job-${k}`);
      const env = Object.fromEntries(Object.entries<string>(run.env).map(([key, v]) => [key, v.replace('${{ matrix.shard }}', String(k)).replace('${{ strategy.job-total }}', String(n))]));
      expect(sh(run.run, env, job)).toBe(0);
      // upload-artifact path -> download-artifact: <path>/<artifact name>/
      const upload = shard.steps.find((s: { uses?: string }) => s.uses?.startsWith('actions/upload-artifact@'));
      const from = path.join(job, upload.with.path.replace('${{ matrix.shard }}', String(k)));
      const download = merge.steps.find((s: { uses?: string }) => s.uses?.startsWith('actions/download-artifact@'));
      fs.cpSync(from, path.join(work, 'merge', download.with.path, upload.with.name.replace('${{ matrix.shard }}', String(k))), { recursive: true });
    }
    expect([0, 1, 4]).toContain(sh(mergeRun.run, {}, path.join(work, 'merge')));
    sameAsWhole(path.join(work, 'merge/merged'));
  }, 300_000);
});

describe('Kubernetes Indexed Job', () => {
  const docs = YAML.parseAllDocuments(recipe('k8s-indexed-job.yml')).map((d) => d.toJS());
  const [mergeJob] = YAML.parseAllDocuments(recipe('k8s-merge-job.yml')).map((d) => d.toJS());
  const job = docs.find((d) => d.kind === 'Job');
  const pvc = docs.find((d) => d.kind === 'PersistentVolumeClaim');
  const container = job.spec.template.spec.containers[0];
  const env = (c: { env: { name: string; value: string }[] }) => Object.fromEntries(c.env.map((e) => [e.name, e.value]));

  test('parses and carries what the Job API requires: Indexed completion, N = completions = parallelism, restartPolicy, a shared volume, a merge Job on it', () => {
    for (const d of [...docs, mergeJob]) {
      expect(typeof d.apiVersion).toBe('string');
      expect(typeof d.kind).toBe('string');
      expect(d.metadata.name).toMatch(/^[a-z0-9-]+$/);
    }
    expect(job.apiVersion).toBe('batch/v1');
    expect(job.spec.completionMode).toBe('Indexed');
    expect(job.spec.parallelism).toBe(job.spec.completions);
    expect(Number(env(container).SHARDS)).toBe(job.spec.completions);
    expect(container.command.join(' ')).toMatch(/JOB_COMPLETION_INDEX/);
    for (const j of [job, mergeJob]) {
      const spec = j.spec.template.spec;
      expect(['Never', 'OnFailure']).toContain(spec.restartPolicy);
      for (const c of spec.containers) {
        expect(c.name).toMatch(/^[a-z0-9-]+$/);
        expect(typeof c.image).toBe('string');
        for (const m of c.volumeMounts) expect(spec.volumes.map((v: { name: string }) => v.name)).toContain(m.name);
      }
      expect(spec.volumes.find((v: { persistentVolumeClaim?: unknown }) => v.persistentVolumeClaim).persistentVolumeClaim.claimName).toBe(pvc.metadata.name);
    }
    // podFailurePolicy needs restartPolicy Never and names a container that exists.
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
    for (const r of job.spec.podFailurePolicy.rules) expect(r.onExitCodes.containerName).toBe(container.name);
    expect(pvc.spec.accessModes).toContain('ReadWriteMany');
  });

  test('its commands, run as the Job runs them (JOB_COMPLETION_INDEX 0..N-1, one volume), give the unsharded report', () => {
    const reports = path.join(tmp, 'k8s-volume');
    const e = { ...env(container), REPORTS: reports, CAMPAIGN, TORNLAB };
    for (let i = 0; i < job.spec.completions; i++) expect(sh(container.command[2], { ...e, JOB_COMPLETION_INDEX: String(i) }, tmp)).toBe(0);
    const mc = mergeJob.spec.template.spec.containers[0];
    expect([0, 1, 4]).toContain(sh(mc.command[2], { ...env(mc), REPORTS: reports, TORNLAB }, tmp));
    sameAsWhole(path.join(reports, 'merged'));
  }, 300_000);
});
