/**
 * The layers read top-down (ARCHITECTURE §1, issue 14):
 *
 *   cli → campaign → engines → report → crash → device | export → util
 *
 * A module may import from its own layer or from any layer below it, never from
 * one above; and there is no import cycle between modules. This test reads the
 * relative `import … from` / `export … from` / `require()` / `import()` lines of
 * src/, engines/ and bench/ (a plain text scan: the rule is about the source
 * a newcomer reads, not about what the compiler erases).
 *
 * report sits below engines because it is plain data and formatting (schema,
 * builders, Markdown/HTML): engines hand it their cells, and it names no engine.
 * bench is a client on top of everything, like cli.
 *
 * engines/common is the floor of the engines layer: what several real-database
 * engines share (server process, base image, cycle steps, bank workload,
 * report measurements, crashable storage and its device, command processes). It names no engine; the engine folders import it and,
 * apart from the listed exceptions, not one another.
 */
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..');

/** Rank of each layer: an import must go to a rank <= its own. */
const RANK: Record<string, number> = {
  'src/util': 0,
  'src/device': 1,
  'src/export': 1,
  'src/crash': 2,
  'src/report': 3,
  'engines/common': 3.5,
  engines: 4,
  'src/campaign': 5,
  'src/cli': 6,
  bench: 7,
};

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(rel));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

function layerOf(file: string): string {
  const parts = file.split(path.sep);
  if (parts[0] === 'engines' && parts[1] === 'common') return 'engines/common';
  return parts[0] === 'src' ? `src/${parts[1]}` : parts[0];
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'";]*?\bfrom\s+['"](\.[^'"]+)['"]|\brequire\(\s*['"](\.[^'"]+)['"]\s*\)|\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g;

/** file (relative to ROOT, no extension) -> the files it imports (same form). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of ['src', 'engines', 'bench'].flatMap(sourceFiles)) {
    const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
    const from = file.replace(/\.ts$/, '');
    const targets: string[] = [];
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3];
      let target = path.normalize(path.join(path.dirname(file), spec));
      if (fs.existsSync(path.join(ROOT, target, 'index.ts'))) target = path.join(target, 'index');
      targets.push(target.replace(/\.(js|ts)$/, ''));
    }
    graph.set(from, targets);
  }
  return graph;
}

/**
 * Upward imports still to be removed. The list must match exactly, so it can
 * only shrink: a new upward import fails, and so does one that was removed but
 * is still listed. (Empty since the cell spec and the engine adapter moved
 * from src/campaign into src/crash, issue 14.)
 */
const KNOWN_UPWARD: string[] = [];

/**
 * The engine folder of a file under engines/ (undefined elsewhere, for
 * engines/common, and for engines/registry: the one list of engines, which
 * imports each engine's adapter by design).
 */
function engineOf(file: string): string | undefined {
  const parts = file.split(path.sep);
  return parts[0] === 'engines' && parts.length > 2 && parts[1] !== 'common' ? parts[1] : undefined;
}

/**
 * Imports from one engine folder into another, still to be removed. The list
 * must match exactly, as KNOWN_UPWARD. (Empty since the crashable storage and
 * the process helpers SQLite's cycle shares with exec moved to engines/common.)
 */
const KNOWN_CROSS_ENGINE: string[] = [];

/** Every cycle met by a depth-first walk, as "a -> b -> a". */
function findCycles(graph: Map<string, string[]>): string[] {
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (node: string, trail: string[]): void => {
    if (state.get(node) === 'done') return;
    if (state.get(node) === 'open') {
      cycles.push([...trail.slice(trail.indexOf(node)), node].join(' -> '));
      return;
    }
    state.set(node, 'open');
    for (const next of graph.get(node) ?? []) if (graph.has(next)) visit(next, [...trail, node]);
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) visit(node, []);
  return cycles;
}

describe('import layers', () => {
  const graph = importGraph();

  test('every source file belongs to a known layer', () => {
    const unknown = [...graph.keys()].filter((f) => RANK[layerOf(f)] === undefined);
    expect(unknown).toEqual([]);
  });

  test('no import runs back up a layer', () => {
    const upward: string[] = [];
    for (const [from, targets] of graph) {
      for (const to of targets) {
        const a = RANK[layerOf(from)];
        const b = RANK[layerOf(to)];
        if (b !== undefined && b > a) upward.push(`${from} -> ${to}`);
      }
    }
    expect(upward.sort()).toEqual(KNOWN_UPWARD);
  });

  test('engine folders share code through engines/common, not through one another', () => {
    const cross: string[] = [];
    for (const [from, targets] of graph) {
      const a = engineOf(from);
      for (const to of targets) {
        const b = engineOf(to);
        if (a && b && a !== b) cross.push(`${from} -> ${to}`.split(path.sep).join('/'));
      }
    }
    expect([...new Set(cross)].sort()).toEqual(KNOWN_CROSS_ENGINE);
  });

  test('src/campaign names no engine: it reaches them only through engines/registry, from src/campaign/engines', () => {
    const named: string[] = [];
    for (const [from, targets] of graph) {
      if (layerOf(from) !== 'src/campaign') continue;
      for (const to of targets) {
        const rel = to.split(path.sep).join('/');
        if (rel.startsWith('engines/') && !(rel === 'engines/registry' && from.split(path.sep).join('/') === 'src/campaign/engines')) named.push(`${from} -> ${to}`);
      }
    }
    expect(named).toEqual([]);
  });

  test('there is no import cycle', () => {
    expect(findCycles(graph)).toEqual([]);
  });

  test('the cycle check finds a cycle when there is one', () => {
    const g = new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]);
    expect(findCycles(g)).toEqual(['a -> b -> c -> a']);
  });

  test('the scan sees imports (a file known to import the device does)', () => {
    const targets = graph.get(path.join('src', 'export', 'block-stack')) ?? graph.get(path.join('engines', 'minipage', 'adapter')) ?? [];
    expect(targets.length).toBeGreaterThan(0);
  });
});
