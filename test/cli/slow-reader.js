/**
 * A deliberately slow reader for test/cli/output.test.ts: reads its stdin in
 * 16 KiB pieces with a 1 ms pause after each, so a writer fills the pipe and
 * has to wait for it, and copies what it read to the file named by argv[2].
 * Prints the byte count on stderr.
 */
'use strict';
const fs = require('fs');

const CHUNK = 16 * 1024;
const PAUSE_MS = 1;
const buf = Buffer.alloc(CHUNK);
const nap = new Int32Array(new SharedArrayBuffer(4));
const out = fs.openSync(process.argv[2], 'w');
let total = 0;
for (;;) {
  let n;
  try {
    n = fs.readSync(0, buf, 0, CHUNK, null);
  } catch (e) {
    if (e.code === 'EAGAIN') {
      Atomics.wait(nap, 0, 0, PAUSE_MS);
      continue;
    }
    throw e;
  }
  if (n === 0) break;
  fs.writeSync(out, buf, 0, n);
  total += n;
  Atomics.wait(nap, 0, 0, PAUSE_MS);
}
fs.closeSync(out);
process.stderr.write(`slow-reader: ${total} bytes\n`);
