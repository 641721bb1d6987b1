// The server's one error helper: the text of any thrown value for logs (full, with paths) and for
// clients (the same text with every absolute path cut to its last part, so a client learns which file is
// wrong but never where the server keeps it), plus the SvcError code that caused it.
import { errorMessage } from '../errors.js';

/** Text of a thrown value for the server's log: message and hint, paths kept. */
export function logText(error: unknown): string {
  return errorMessage(error);
}

/** Stack (or text) of an unexpected failure, for the log only. */
export function logStack(error: unknown): string {
  return error instanceof Error && error.stack ? error.stack : errorMessage(error);
}

// An absolute POSIX or Windows path: a leading / or X:\ followed by at least one more separator-delimited
// part. The last part is kept (the file name tells a user what to fix), the folders are dropped.
const ABSOLUTE_PATH = /(?<![\w.:/\\])(?:[A-Za-z]:)?[/\\](?:[^\s"'`()<>,;|/\\]+[/\\])+([^\s"'`()<>,;|/\\]*)/g;

/** Removes the folders of absolute paths from a text meant for a client. */
export function withoutPaths(text: string): string {
  return text.replace(ABSOLUTE_PATH, (_match, last: string) => last || '…');
}

/** Text of a thrown value for a client: message and hint, absolute paths cut to their last part. */
export function clientText(error: unknown): string {
  return withoutPaths(errorMessage(error));
}

/** The SvcError code of a thrown value ('INTERNAL' for anything else). */
export function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'INTERNAL';
}
