/** Errors the engine raises when the device holds something it cannot trust. */

/** A page failed its checksum (or is unreadable, or missing) where the engine needed it: the engine noticed a torn page. */
export class TornPageError extends Error {
  constructor(
    readonly pageNo: number,
    readonly reason: string,
    message?: string,
  ) {
    super(message ?? `page ${pageNo} is torn or corrupt (${reason})`);
    this.name = 'TornPageError';
  }
}

/** Recovery refused to go on (no control block, WAL inconsistent, ...). */
export class RecoveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecoveryError';
  }
}
