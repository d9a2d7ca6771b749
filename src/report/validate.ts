/**
 * Validation of a report.json on load: first its shape against a JSON Schema
 * (ajv), then the invariants between fields that a schema cannot say (sums,
 * derived ratios, status). Every error names the key, e.g.
 * `cells[3].verdicts: missing key "ok"`, so a hand-edited or truncated file can be fixed.
 */
import Ajv, { ErrorObject } from 'ajv';
import { BadInputError } from '../util/errors';
import { cellId, cellStatus, computeTotals, ratio } from './build';
import { CELL_STATUSES, EXPECTATION_KINDS, REPORT_SCHEMA_VERSION, Report, TAGS, VERDICTS } from './schema';

const count = { type: 'integer', minimum: 0 } as const;
const num = { type: 'number' } as const;
const ratioOrNull = { type: ['number', 'null'] } as const;

function closedObject(properties: Record<string, unknown>): Record<string, unknown> {
  return { type: 'object', additionalProperties: false, required: Object.keys(properties), properties };
}

function countsOf(keys: readonly string[]): Record<string, unknown> {
  return closedObject(Object.fromEntries(keys.map((k) => [k, count])));
}

const finding = closedObject({
  replayId: { type: 'string', minLength: 1 },
  verdict: { enum: VERDICTS.filter((v) => v !== 'ok') },
  detail: { type: 'string' },
});

const cell = closedObject({
  id: { type: 'string', minLength: 1 },
  engine: { type: 'string', minLength: 1 },
  mode: { type: 'string', minLength: 1 },
  profile: { type: 'string', minLength: 1 },
  faults: { type: 'array', items: { type: 'string', minLength: 1 } },
  pageSize: { type: 'integer', minimum: 1 },
  workload: { type: 'string', minLength: 1 },
  txns: count,
  seed: { type: 'integer' },
  bytesByTag: countsOf(TAGS),
  hostWriteBytes: count,
  logicalBytesCommitted: count,
  commits: count,
  hostWriteAmplification: ratioOrNull,
  nandBytesProgrammed: count,
  nandWriteAmplification: ratioOrNull,
  totalWriteAmplification: ratioOrNull,
  flushes: count,
  fuaWrites: count,
  flushesPerCommit: ratioOrNull,
  fuaWritesPerCommit: ratioOrNull,
  simTimeUs: { type: 'number', minimum: 0 },
  throughputTxnPerSec: ratioOrNull,
  commitLatencyUs: closedObject({ p50: { type: 'number', minimum: 0 }, p99: { type: 'number', minimum: 0 } }),
  lifetime: closedObject({
    tbwTerabytes: { type: 'number', minimum: 0 },
    hostBytesPerTxn: ratioOrNull,
    nandBytesPerTxn: ratioOrNull,
    txnsToTbw: ratioOrNull,
    daysToTbwAtSimRate: ratioOrNull,
  }),
  crashStatesTried: count,
  verdicts: countsOf(VERDICTS),
  findings: { type: 'array', items: finding },
  findingsOmitted: count,
  expectation: closedObject({
    kind: { enum: [...EXPECTATION_KINDS] },
    tolerated: { type: 'array', uniqueItems: true, items: { enum: VERDICTS.filter((v) => v !== 'ok') } },
    reason: { type: 'string' },
  }),
  status: { enum: [...CELL_STATUSES] },
  coverage: { type: 'array', items: { type: 'object', additionalProperties: false, required: ['window', 'states', 'nonOk'], properties: { window: { type: 'string' }, states: count, nonOk: { type: 'object', additionalProperties: count } } } },
  control: {
    type: 'object',
    additionalProperties: false,
    required: ['sabotage', 'what', 'window', 'caught', 'statesInWindow'],
    properties: { sabotage: { type: 'string' }, what: { type: 'string' }, window: { type: 'string' }, caught: { type: 'boolean' }, statesInWindow: count },
  },
  costs: { type: 'object' },
});
// coverage and control are optional (in-process engines; positive controls).
cell.required = (cell.required as string[]).filter((k) => k !== 'coverage' && k !== 'control' && k !== 'costs');

/** JSON Schema (draft-07) of report.json, schemaVersion 1. */
export const REPORT_JSON_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://tornlab.invalid/schemas/report-v1.json',
  title: 'tornlab report',
  ...closedObject({
    schemaVersion: { const: REPORT_SCHEMA_VERSION },
    tool: closedObject({ name: { const: 'tornlab' }, version: { type: 'string' } }),
    generatedAt: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$' },
    title: { type: 'string' },
    campaign: { type: 'object' },
    findingsCap: count,
    cells: { type: 'array', items: cell },
    totals: closedObject({
      cells: count,
      cellsByStatus: countsOf(CELL_STATUSES),
      crashStatesTried: count,
      verdicts: countsOf(VERDICTS),
      findings: count,
      hostWriteBytes: count,
      logicalBytesCommitted: count,
      nandBytesProgrammed: count,
    }),
  }),
};

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
const validateShape = ajv.compile(REPORT_JSON_SCHEMA);

/** `/cells/3/verdicts` -> `cells[3].verdicts` */
function keyPath(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(part) ? `[${part}]` : out ? `.${part}` : part;
  }
  return out || '(top level)';
}

function describe(e: ErrorObject): string {
  const at = keyPath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return `${at}: missing key "${String(p.missingProperty)}"`;
    case 'additionalProperties':
      return `${at === '(top level)' ? '' : at + '.'}${String(p.additionalProperty)}: unknown key`;
    case 'enum':
      return `${at}: must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `${at}: must be ${JSON.stringify(p.allowedValue)}`;
    default:
      return `${at}: ${e.message ?? e.keyword}`;
  }
}

/** Invariants between fields; returns one message per broken invariant, naming the key. */
export function checkConsistency(r: Report): string[] {
  const errs: string[] = [];
  const seen = new Set<string>();
  r.cells.forEach((c, i) => {
    const at = `cells[${i}]`;
    if (c.id !== cellId(c)) errs.push(`${at}.id: is "${c.id}" but engine/mode/profile/faults/pageSize/workload give "${cellId(c)}"`);
    if (seen.has(c.id)) errs.push(`${at}.id: duplicate cell id "${c.id}"`);
    seen.add(c.id);
    const host = TAGS.reduce((s, t) => s + c.bytesByTag[t], 0);
    if (host !== c.hostWriteBytes) errs.push(`${at}.hostWriteBytes: is ${c.hostWriteBytes} but bytesByTag sums to ${host}`);
    const tried = VERDICTS.reduce((s, v) => s + c.verdicts[v], 0);
    if (tried !== c.crashStatesTried) errs.push(`${at}.crashStatesTried: is ${c.crashStatesTried} but verdicts sum to ${tried}`);
    const wa = ratio(c.hostWriteBytes, c.logicalBytesCommitted);
    if (wa !== c.hostWriteAmplification) errs.push(`${at}.hostWriteAmplification: is ${c.hostWriteAmplification} but hostWriteBytes / logicalBytesCommitted is ${wa}`);
    const st = cellStatus(c.verdicts, c.expectation, c);
    if (st !== c.status) errs.push(`${at}.status: is "${c.status}" but its verdicts and expectation give "${st}"`);
    if (c.findings.length > r.findingsCap) errs.push(`${at}.findings: ${c.findings.length} findings exceed findingsCap ${r.findingsCap}`);
    const nonOk = c.crashStatesTried - c.verdicts.ok;
    if (c.findings.length + c.findingsOmitted !== nonOk) errs.push(`${at}.findingsOmitted: findings (${c.findings.length}) + findingsOmitted (${c.findingsOmitted}) must equal the non-ok crash states (${nonOk})`);
  });
  const t = computeTotals(r.cells);
  if (JSON.stringify(t) !== JSON.stringify(r.totals)) {
    for (const k of Object.keys(t) as (keyof typeof t)[]) {
      if (JSON.stringify(t[k]) !== JSON.stringify(r.totals[k])) errs.push(`totals.${k}: is ${JSON.stringify(r.totals[k])} but the cells give ${JSON.stringify(t[k])}`);
    }
  }
  return errs;
}

/**
 * Check that `data` (parsed JSON) is a report of this schema version; returns it typed.
 * Throws BadInputError listing the problems (at most 20), each naming its key.
 * `source` names the file in the message.
 */
export function validateReport(data: unknown, source = 'report.json'): Report {
  if (data && typeof data === 'object' && 'schemaVersion' in data && (data as { schemaVersion: unknown }).schemaVersion !== REPORT_SCHEMA_VERSION) {
    throw new BadInputError(`${source}: schemaVersion is ${JSON.stringify((data as { schemaVersion: unknown }).schemaVersion)}, this tornlab reads schemaVersion ${REPORT_SCHEMA_VERSION}; regenerate the report with this version`);
  }
  let errs: string[];
  if (!validateShape(data)) {
    errs = [...new Set((validateShape.errors ?? []).map(describe))];
  } else {
    errs = checkConsistency(data as unknown as Report);
  }
  if (errs.length > 0) {
    const shown = errs.slice(0, 20).map((e) => `  ${e}`);
    if (errs.length > 20) shown.push(`  ... and ${errs.length - 20} more`);
    throw new BadInputError(`${source} is not a valid tornlab report:\n${shown.join('\n')}`);
  }
  return data as unknown as Report;
}
