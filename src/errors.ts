// One error type for everything a user can get wrong: a stable code (documented in docs/errors.md
// and docs/protocol.md), a message that says what was expected and what arrived, and a hint on how
// to fix it. The CLI prints `svc: <message>` and exits non-zero; the server sends {type:"error",code,...}.

import ERROR_CODES from './error-codes.json' with { type: 'json' };

/**
 * The codes, their meaning and their usual fix, defined once in src/error-codes.json: docs/errors.md
 * is checked against it (test/errors.test.ts) and Python's svc_py/events.py reads the same file, so
 * a code cannot exist on one side only.
 */
export const SVC_ERROR_CODES: Readonly<Record<SvcErrorCode, { meaning: string; fix: string }>> = ERROR_CODES;
export type SvcErrorCode = keyof typeof ERROR_CODES;

export function isSvcErrorCode(code: unknown): code is SvcErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

export class SvcError extends Error {
  readonly code: SvcErrorCode;
  readonly hint?: string;

  constructor(code: SvcErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SvcError';
    this.code = code;
    this.hint = options.hint;
  }

  /** One line for a terminal: message, then the fix if there is one. */
  toUserString(): string {
    return this.hint ? `${this.message} (${this.hint})` : this.message;
  }
}

export function isSvcError(error: unknown): error is SvcError {
  return error instanceof SvcError;
}

/** Message of any thrown value, for logs and error frames. */
export function errorMessage(error: unknown): string {
  if (error instanceof SvcError) return error.toUserString();
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * A file-system or socket error of Node (errno code) as a user error that names the path and the
 * fix, with its own code for a full disk, a permission problem or a taken port, so ENOSPC is never
 * reported as a bad argument. `action` reads like "write the checkpoint".
 */
export function ioError(error: unknown, path: string, action: string): SvcError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const cause = { cause: error };
  switch (code) {
    case 'ENOENT':
      return new SvcError('FILE_NOT_FOUND', `cannot ${action}: ${path} does not exist`, { hint: 'check the path', ...cause });
    case 'ENOSPC':
    case 'EDQUOT':
      return new SvcError('DISK_FULL', `cannot ${action}: the disk holding ${path} is full`, { hint: 'free space on that disk or write somewhere else', ...cause });
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new SvcError('PERMISSION_DENIED', `cannot ${action}: permission denied for ${path} (${code})`, { hint: 'fix the permissions of that path or pick another one', ...cause });
    case 'EISDIR':
      return new SvcError('INVALID_ARGUMENT', `cannot ${action}: ${path} is a folder`, { hint: 'give a file path', ...cause });
    case 'EADDRINUSE':
      return new SvcError('ADDRESS_IN_USE', `cannot ${action}: ${path} is already in use`, { hint: 'stop the other server or pick another --port (0 = any free port)', ...cause });
    default:
      return new SvcError('INTERNAL', `cannot ${action} (${path}): ${errorMessage(error)}`, cause);
  }
}
