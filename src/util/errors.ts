/**
 * Errors the user can fix (bad profile, bad LBA, bad option) are `BadInputError`s:
 * the CLI prints their message and exits 2. A `HarnessError` is the testbed
 * itself failing in a phase (a deadline passed, a tool went missing): the
 * verdict `harness-error` (src/crash/verdict.ts), CLI exit status 3. Everything
 * else is a bug or an environment failure: also exit 3, with its stack.
 */
export class TornlabError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Input that is wrong and can be corrected by the caller; CLI exit status 2. */
export class BadInputError extends TornlabError {
  constructor(message: string, code = 'bad-input') {
    super(code, message);
  }
}

/** A precondition of the machine is missing (root, /dev/fuse, a binary); CLI exit status 2. */
export class PreconditionError extends TornlabError {
  constructor(message: string) {
    super('precondition', message);
  }
}

/**
 * The storage under a database filled up (ENOSPC, SQLITE_FULL): the device
 * the user sized is too small for the data set (exit 2). `used` says how far
 * the run got (acknowledged commits), so the CLI can name the size needed.
 */
export class DeviceFullError extends BadInputError {
  constructor(
    message: string,
    readonly acked: number,
  ) {
    super(message, 'device-full');
  }
}

/**
 * The testbed failed, not the database: `phase` names what it was doing
 * ("recovery", "verify", "mount", ...). Where a crash state is being judged
 * the campaign turns it into the verdict `harness-error`; anywhere else it
 * ends the run with exit status 3.
 */
export class HarnessError extends TornlabError {
  constructor(
    readonly phase: string,
    message: string,
  ) {
    super('harness-error', message);
  }

  /** One line: `phase: message` (the detail of a harness-error verdict). */
  get detail(): string {
    return `${this.phase}: ${this.message.split('\n')[0]}`;
  }

  /** Lines for a report (a subclass with more to say — what was stuck — gives more). */
  describe(): string[] {
    return [this.detail];
  }
}

export function isHarnessError(e: unknown): e is HarnessError {
  return e instanceof HarnessError;
}

export function isUserError(e: unknown): e is TornlabError {
  return e instanceof BadInputError || e instanceof PreconditionError;
}
