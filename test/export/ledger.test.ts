/**
 * The run ledger's life cycle (src/export/ledger.ts, invariant 2): a ledger that
 * close() released stays closed. A signal teardown that took the ledger before a
 * finally block closed it once crashed here with ENOENT on state.json.tmp, and the
 * run then waited 60 s for the teardown's timer (kill test, sqlite SIGINT).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { currentLedger, runLedger } from '../../src/export/ledger';

test('after close() the ledger ignores removals, refuses new resources and is never recreated on disk', () => {
  const l = runLedger();
  const state = path.join(l.dir, 'state.json');
  expect(fs.existsSync(state)).toBe(true);
  const sockets = path.join(l.dir, 'sockets');
  l.add('dir', sockets);
  expect(l.close()).toBe(true);
  expect(l.isClosed).toBe(true);
  expect(fs.existsSync(l.dir)).toBe(false);
  expect(currentLedger()).toBeUndefined();
  expect(() => l.remove('dir', sockets)).not.toThrow();
  expect(() => l.add('dir', path.join(l.dir, 'late'))).toThrow(/ledger is closed/);
  expect(fs.existsSync(l.dir)).toBe(false);
});
