/**
 * Validation of a report.json on load: first its shape against a JSON Schema
 * (ajv), then the invariants between fields that a schema cannot say (sums,
 * derived ratios, status). Every error names the key, e.g.
 * `cells[3].verdicts: missing key "ok"`, so a hand-edited or truncated file can be fixed.
 */
import Ajv, { ErrorObject } from 'ajv';
import { BadInputError } from '../util/errors';
import { cellId, cellStatus, computeTotals, ratio } from './build';
import { canonicalFaults, isCanonicalFaults } from '../crash/faults';
import { CELL_STATUSES, EXPECTATION_KINDS, NON_OK, READABLE_SCHEMA_VERSIONS, REPORT_SCHEMA_VERSION, Report, TAGS, VERDICTS } from './schema';

const count = { type: 'integer', minimum: 0 } as const;
const num = { type: 'number' } as const;
const ratioOrNull = { type: ['number', 'null'] } as const;

function closedObject(properties: Record<string, unknown>): Record<string, unknown> {
  return { type: 'object', additionalProperties: false, required: Object.keys(properties), properties };
}

function countsOf(keys: readonly string[]): Record<string, unknown> {
  return closedObject(Object.fromEntries(keys.map((k) => [k, count])));
}

/** Optional cell fields of version 2 (in-process engines: crash-window coverage; positive controls; costs at scale). */
const coverageFields = {
  coverage: {
    type: 'array',
    items: { type: 'object', additionalProperties: false, required: ['window', 'states', 'nonOk'], properties: { window: { type: 'string' }, states: count, nonOk: { type: 'object', additionalProperties: count } } },
  },
  control: {
    type: 'object',
    additionalProperties: false,
    required: ['sabotage', 'what', 'window', 'caught', 'statesInWindow'],
    properties: { sabotage: { type: 'string' }, what: { type: 'string' }, window: { type: 'string' }, caught: { type: 'boolean' }, statesInWindow: count },
  },
  costs: { type: 'object' },
};

/**
 * The JSON Schema of report.json at a schema version. Version 1 is version 2
 * without harness errors and without coverage: no `harness-error` verdict
 * count, no `harness-error` or `not-covered` cell status, no harnessErrors /
 * harnessErrorsOmitted, no coverage / control / costs. In version 2 those
 * three cell fields are optional.
 */
function reportJsonSchema(version: 1 | 2): Record<string, unknown> {
  const verdicts = version === 1 ? VERDICTS.filter((v) => v !== 'harness-error') : VERDICTS;
  const statuses = version === 1 ? CELL_STATUSES.filter((s) => s !== 'harness-error' && s !== 'not-covered') : CELL_STATUSES;
  const finding = closedObject({
    replayId: { type: 'string', minLength: 1 },
    verdict: { enum: [...NON_OK] },
    detail: { type: 'string' },
  });
  const harnessError = closedObject({
    replayId: { type: 'string', minLength: 1 },
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
    verdicts: countsOf(verdicts),
    findings: { type: 'array', items: finding },
    findingsOmitted: count,
    ...(version === 1 ? {} : { harnessErrors: { type: 'array', items: harnessError }, harnessErrorsOmitted: count }),
    expectation: closedObject({
      kind: { enum: [...EXPECTATION_KINDS] },
      tolerated: { type: 'array', uniqueItems: true, items: { enum: [...NON_OK] } },
      reason: { type: 'string' },
    }),
    status: { enum: [...statuses] },
    ...(version === 1 ? {} : coverageFields),
  });
  cell.required = (cell.required as string[]).filter((k) => !(k in coverageFields));
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: `https://tornlab.invalid/schemas/report-v${version}.json`,
    title: 'tornlab report',
    ...closedObject({
      schemaVersion: { const: version },
      tool: closedObject({ name: { const: 'tornlab' }, version: { type: 'string' } }),
      generatedAt: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$' },
      title: { type: 'string' },
      campaign: { type: 'object' },
      findingsCap: count,
      cells: { type: 'array', items: cell },
      totals: closedObject({
        cells: count,
        cellsByStatus: countsOf(statuses),
        crashStatesTried: count,
        verdicts: countsOf(verdicts),
        findings: count,
        hostWriteBytes: count,
        logicalBytesCommitted: count,
        nandBytesProgrammed: count,
      }),
    }),
  };
}

/** JSON Schema (draft-07) of report.json, schemaVersion 2 (what this tornlab writes). */
export const REPORT_JSON_SCHEMA = reportJsonSchema(REPORT_SCHEMA_VERSION);
/** JSON Schema of schemaVersion 1 reports (read, and upgraded on load). */
export const REPORT_JSON_SCHEMA_V1 = reportJsonSchema(1);

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
const validateShape = ajv.compile(REPORT_JSON_SCHEMA);
const validateShapeV1 = ajv.compile(REPORT_JSON_SCHEMA_V1);

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
    if (!isCanonicalFaults(c.faults)) errs.push(`${at}.faults: ${JSON.stringify(c.faults)} is not in the canonical fault order ${JSON.stringify(canonicalFaults(c.faults))}`);
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
    const harness = c.verdicts['harness-error'];
    const found = c.crashStatesTried - c.verdicts.ok - harness;
    if (c.findings.length + c.findingsOmitted !== found) errs.push(`${at}.findingsOmitted: findings (${c.findings.length}) + findingsOmitted (${c.findingsOmitted}) must equal the crash states with a finding (${found})`);
    if (c.harnessErrors.length > r.findingsCap) errs.push(`${at}.harnessErrors: ${c.harnessErrors.length} harness errors exceed findingsCap ${r.findingsCap}`);
    if (c.harnessErrors.length + c.harnessErrorsOmitted !== harness) errs.push(`${at}.harnessErrorsOmitted: harnessErrors (${c.harnessErrors.length}) + harnessErrorsOmitted (${c.harnessErrorsOmitted}) must equal verdicts.harness-error (${harness})`);
  });
  const t = computeTotals(r.cells);
  if (JSON.stringify(t) !== JSON.stringify(r.totals)) {
    for (const k of Object.keys(t) as (keyof typeof t)[]) {
      if (JSON.stringify(t[k]) !== JSON.stringify(r.totals[k])) errs.push(`totals.${k}: is ${JSON.stringify(r.totals[k])} but the cells give ${JSON.stringify(t[k])}`);
    }
  }
  return errs;
}

/** Counts in canonical key order with a zero for `harness-error` (what a schema-1 report recorded: none). */
function withHarnessCount(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(VERDICTS.map((v) => [v, counts[v] ?? 0]));
}

/**
 * A valid schema-1 report as schema 2: zero harness errors everywhere (schema 1
 * had no such verdict), keys in the order the builder writes them.
 */
export function upgradeV1(data: Record<string, unknown>): Report {
  const v1 = data as unknown as { cells: Record<string, unknown>[]; totals: Record<string, unknown> };
  const cells = v1.cells.map((c) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(c)) {
      out[k] = k === 'verdicts' ? withHarnessCount(v as Record<string, number>) : v;
      if (k === 'findingsOmitted') {
        out.harnessErrors = [];
        out.harnessErrorsOmitted = 0;
      }
    }
    return out;
  });
  const totals: Record<string, unknown> = { ...v1.totals, verdicts: withHarnessCount(v1.totals.verdicts as Record<string, number>) };
  totals.cellsByStatus = Object.fromEntries(CELL_STATUSES.map((s) => [s, (v1.totals.cellsByStatus as Record<string, number>)[s] ?? 0]));
  return { ...data, schemaVersion: REPORT_SCHEMA_VERSION, cells, totals } as unknown as Report;
}

/**
 * Check that `data` (parsed JSON) is a report this tornlab reads (schemaVersion
 * 1 or 2); returns it typed, as schema 2 (a schema-1 report is upgraded).
 * Throws BadInputError listing the problems (at most 20), each naming its key.
 * `source` names the file in the message.
 */
export function validateReport(data: unknown, source = 'report.json'): Report {
  const version = data && typeof data === 'object' && 'schemaVersion' in data ? (data as { schemaVersion: unknown }).schemaVersion : undefined;
  if (version !== undefined && !(READABLE_SCHEMA_VERSIONS as readonly unknown[]).includes(version)) {
    throw new BadInputError(
      `${source}: schemaVersion is ${JSON.stringify(version)}, this tornlab reads schemaVersion ${READABLE_SCHEMA_VERSIONS.join(' and ')}; regenerate the report with this version`,
    );
  }
  const shape = version === 1 ? validateShapeV1 : validateShape;
  let errs: string[];
  let report: Report | undefined;
  if (!shape(data)) {
    errs = [...new Set((shape.errors ?? []).map(describe))];
  } else {
    report = version === 1 ? upgradeV1(data as Record<string, unknown>) : (data as unknown as Report);
    errs = checkConsistency(report);
  }
  if (errs.length > 0 || !report) {
    const shown = errs.slice(0, 20).map((e) => `  ${e}`);
    if (errs.length > 20) shown.push(`  ... and ${errs.length - 20} more`);
    throw new BadInputError(`${source} is not a valid tornlab report:\n${shown.join('\n')}`);
  }
  return report;
}
