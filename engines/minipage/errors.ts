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

/**
 * A page whose blocks are all of one version, but an old one (or none: all
 * zeros, its write never landed): the page lost updates. Not a torn page
 * (torn = blocks of different versions); a loss, judged `lost-commit` or
 * `silent-corruption` (ARCHITECTURE 4). `pageLsn`..`neededLsn` is the missing
 * LSN range when known.
 */
export class LostPageError extends Error {
  constructor(
    readonly pageNo: number,
    readonly reason: string,
    readonly pageLsn?: number,
    readonly neededLsn?: number,
  ) {
    super(`page ${pageNo} lost updates: ${reason}${pageLsn !== undefined && neededLsn !== undefined ? ` (page LSN ${pageLsn}, the log needs it at ${neededLsn}: the changes in LSN range (${pageLsn}, ${neededLsn}) are missing)` : ''}`);
    this.name = 'LostPageError';
  }
}
