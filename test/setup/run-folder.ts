/**
 * After every test file: stop the watchdog thread and the device host this
 * file's modules started, and remove the run folder if nothing is held.
 *
 * Why here: jest gives each test file its own module registry and a process
 * object whose 'exit' listeners never run, so the CLI's own exit-time cleanup
 * (teardown.ts, ledger.close) does not happen under jest; without this every
 * test file that touched a ledger left an empty /run/tornlab/<run> behind.
 */
import { stopDeviceHost } from '../../src/export/device-host/client';
import { currentLedger } from '../../src/export/ledger';
import { stopWatchdog } from '../../src/export/watchdog';

afterAll(async () => {
  await stopWatchdog();
  await stopDeviceHost();
  currentLedger()?.close();
});
