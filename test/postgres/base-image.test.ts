/**
 * engines/postgres/base-image.ts without a server: a base image that runs out of space is the
 * user's sizing (exit 2, invariant 2), whichever side noticed first. Under load a PostgreSQL that
 * PANICs on a full WAL write can drop the connection before the client's query fails with
 * ENOSPC; the client then only says "Connection terminated unexpectedly" (seen in a CI run,
 * 2026-12-04), and the reason is in the server's log.
 */
import { refuseFullDevice, withFullDeviceLine } from '../../engines/postgres/base-image';
import { DEFAULT_CELL } from '../../engines/postgres/config';
import { DeviceFullError } from '../../src/util/errors';

const cfg = { ...DEFAULT_CELL, fpw: true, seed: 1, crashes: 1, accounts: 200_000 };
const PANIC_LOG = `2026-12-04 21:55:01.100 UTC [4711] LOG:  database system is ready to accept connections
2026-12-04 21:55:02.310 UTC [4720] PANIC:  could not write to file "pg_wal/xlogtemp.4720": No space left on device
2026-12-04 21:55:02.400 UTC [4711] LOG:  server process (PID 4720) was terminated by signal 6: Aborted
`;

test('a connection dropped by a PANIC on a full device is the device-full refusal, with the size to give', () => {
  const e = withFullDeviceLine(new Error('Connection terminated unexpectedly'), PANIC_LOG);
  expect(() => refuseFullDevice(cfg, e)).toThrow(DeviceFullError);
  expect(() => refuseFullDevice(cfg, e)).toThrow(/the device is full: the base image \(initdb and 200000 accounts\) does not fit in \d+ MiB; give it more with --device-mib \d+ \(the data set needs about 183 MiB\)/);
});

test('any other failure stays what it was', () => {
  const e = new Error('Connection terminated unexpectedly');
  expect(withFullDeviceLine(e, 'LOG:  database system is ready to accept connections\n')).toBe(e);
  expect(() => refuseFullDevice(cfg, e)).toThrow(/^Connection terminated unexpectedly$/);
  // An error that already names ENOSPC is kept as it is.
  const enospc = new Error('could not extend file "base/5/16384": No space left on device');
  expect(withFullDeviceLine(enospc, PANIC_LOG)).toBe(enospc);
});
