// One error type for everything a user can get wrong: a stable code (documented in docs/errors.md
// and docs/protocol.md), a message that says what was expected and what arrived, and a hint on how
// to fix it. The CLI prints `svc: <message>` and exits non-zero; the server sends {type:"error",code,...}.

export type SvcErrorCode =
  | 'FILE_NOT_FOUND'
  | 'FILE_EMPTY'
  | 'FILE_TRUNCATED'
  | 'UNSUPPORTED_FORMAT'
  | 'UNSUPPORTED_RATE'
  | 'INVALID_AUDIO'
  | 'INVALID_ARGUMENT'
  | 'MODEL_NOT_FOUND'
  | 'MODEL_INVALID'
  | 'ONNX_INPUT_MISMATCH'
  | 'ONNX_RUN_FAILED'
  | 'PROVIDER_UNAVAILABLE'
  | 'DEVICE_UNAVAILABLE'
  | 'PYTHON_UNAVAILABLE'
  | 'INTERNAL';

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
