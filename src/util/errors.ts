/**
 * Errors the user can fix (bad profile, bad LBA, bad option) are `BadInputError`s:
 * the CLI prints their message and exits 2. Everything else is a bug or an
 * environment failure and keeps its stack.
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

export function isUserError(e: unknown): e is TornlabError {
  return e instanceof BadInputError || e instanceof PreconditionError;
}
