import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';
import { REPORT_JSON_SCHEMA, REPORT_JSON_SCHEMA_V1, validateReport } from '../../src/report/validate';
import { renderHtml } from '../../src/report/html';
import { renderMarkdown } from '../../src/report/markdown';
import { renderJson } from '../../src/report/writer';
import { BadInputError } from '../../src/util/errors';
import { syntheticReport } from './fixture';

/** A fresh, mutable copy of the fixture as parsed JSON. */
function fresh(): any {
  return JSON.parse(renderJson(syntheticReport(undefined, 40)));
}

function errorOf(data: unknown): string {
  try {
    validateReport(data, 'x/report.json');
  } catch (e) {
    expect(e).toBeInstanceOf(BadInputError);
    return (e as Error).message;
  }
  throw new Error('expected validateReport to throw');
}

describe('report.json validation', () => {
  test('a built report is valid, also through the plain JSON Schema', () => {
    const data = fresh();
    expect(validateReport(data).cells).toHaveLength(24);
    const ajv = new Ajv({ allErrors: true, allowUnionTypes: true });
    expect(ajv.validate(REPORT_JSON_SCHEMA, data)).toBe(true);
  });

  test('a missing key is named with its path', () => {
    const d = fresh();
    delete d.cells[2].verdicts.ok;
    expect(errorOf(d)).toContain('cells[2].verdicts: missing key "ok"');
  });

  test('an unknown key is named', () => {
    const d = fresh();
    d.cells[0].bogus = 1;
    d.extra = true;
    const msg = errorOf(d);
    expect(msg).toContain('cells[0].bogus: unknown key');
    expect(msg).toContain('extra: unknown key');
  });

  test('bad values name the key and the allowed values', () => {
    const d = fresh();
    d.cells[5].status = 'fine';
    d.cells[1].bytesByTag.wal = -3;
    d.cells[1].hostWriteAmplification = 'high';
    const msg = errorOf(d);
    expect(msg).toContain('cells[5].status: must be one of "pass", "finding-expected", "finding-bug", "harness-error"');
    expect(msg).toContain('cells[1].bytesByTag.wal: must be >= 0');
    expect(msg).toContain('cells[1].hostWriteAmplification: must be number,null');
  });

  test('another schema version is refused with a clear message', () => {
    const d = fresh();
    d.schemaVersion = 3;
    expect(errorOf(d)).toMatch(/schemaVersion is 3, this tornlab reads schemaVersion 1 and 2/);
  });

  test('a schema-1 report (reports/example as committed before harness-error) still validates, upgraded to schema 2', () => {
    // test/report/report-v1.json is reports/example/report.json as schema 1 wrote it.
    const v1 = JSON.parse(fs.readFileSync(path.join(__dirname, 'report-v1.json'), 'utf8'));
    expect(v1.schemaVersion).toBe(1);
    const ajv = new Ajv({ allErrors: true, allowUnionTypes: true });
    expect(ajv.validate(REPORT_JSON_SCHEMA_V1, v1)).toBe(true);
    expect(ajv.validate(REPORT_JSON_SCHEMA, v1)).toBe(false);
    const r = validateReport(v1);
    expect(r.schemaVersion).toBe(2);
    expect(r.cells.length).toBe(v1.cells.length);
    for (const c of r.cells) {
      expect(c.verdicts['harness-error']).toBe(0);
      expect(Object.keys(c.verdicts).pop()).toBe('harness-error');
      expect(c.harnessErrors).toEqual([]);
      expect(c.harnessErrorsOmitted).toBe(0);
    }
    expect(r.totals.cellsByStatus['harness-error']).toBe(0);
    // It renders, and the upgraded data is a valid schema-2 report.
    expect(renderMarkdown(r)).toContain('## Harness errors');
    expect(renderHtml(r)).toContain('data-chart="verdict-matrix"');
    expect(ajv.validate(REPORT_JSON_SCHEMA, JSON.parse(JSON.stringify(r)))).toBe(true);
  });

  test('a schema-1 report may not carry schema-2 fields', () => {
    const d = fresh();
    d.schemaVersion = 1;
    expect(errorOf(d)).toContain('harnessErrors: unknown key');
  });

  test('harness errors: their own list, which must add up to the count', () => {
    const d = fresh();
    const i = d.cells.findIndex((c: { id: string }) => c.id === 'minipage/doublewrite/enterprise-plp/8192/kv-zipf');
    expect(d.cells[i].status).toBe('harness-error');
    expect(d.cells[i].harnessErrors).toHaveLength(2);
    expect(validateReport(d).cells[i].verdicts['harness-error']).toBe(2);
    d.cells[i].harnessErrors.pop();
    d.cells[i].findings.push({ replayId: 'x', verdict: 'harness-error', detail: 'y' });
    const msg = errorOf(d);
    expect(msg).toContain(`cells[${i}].findings[0].verdict: must be one of "torn-page-detected"`);
    d.cells[i].findings.pop();
    expect(errorOf(d)).toContain(`cells[${i}].harnessErrorsOmitted: harnessErrors (1) + harnessErrorsOmitted (0) must equal verdicts.harness-error (2)`);
  });

  test('not an object at all', () => {
    expect(errorOf([1, 2])).toContain('(top level): must be object');
  });

  test('invariants between fields are checked and named', () => {
    const d = fresh();
    d.cells[1].hostWriteBytes += 1;
    d.cells[3].status = d.cells[3].status === 'pass' ? 'finding-bug' : 'pass';
    d.cells[4].verdicts.ok -= 1;
    d.totals.cells = 99;
    d.cells[6].id = 'wrong';
    const msg = errorOf(d);
    expect(msg).toContain('cells[1].hostWriteBytes: is');
    expect(msg).toContain('cells[3].status: is');
    expect(msg).toContain('cells[4].crashStatesTried: is 40 but verdicts sum to 39');
    expect(msg).toContain('totals.cells: is 99 but the cells give 24');
    expect(msg).toContain('cells[6].id: is "wrong"');
  });

  test('the error list is capped', () => {
    const d = fresh();
    for (const c of d.cells) c.status = 'bad';
    const msg = errorOf(d);
    expect(msg).toContain('... and 4 more');
  });
});
