"""JSON-line events on stdout, the protocol between Python jobs and src/python.ts.

Every line is one JSON object with an "event" key: "progress" (message), "result" (payload), or
"error" (code, message, hint). Anything a library prints goes to stderr so stdout stays parseable."""
import errno
import json
import os
import sys

# The one list of error codes, shared with TypeScript (src/errors.ts reads the same file).
with open(os.path.join(os.path.dirname(__file__), "..", "..", "src", "error-codes.json"), encoding="utf-8") as _handle:
    ERROR_CODES = frozenset(json.load(_handle))


class SvcPyError(Exception):
    """A user-facing error: a stable svc error code, a message naming expected vs found, a fix."""

    def __init__(self, code, message, hint=None):
        if code not in ERROR_CODES:
            raise ValueError(f"unknown svc error code {code!r}: add it to src/error-codes.json")
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint


_stdout = sys.stdout


def emit(event, **fields):
    _stdout.write(json.dumps({"event": event, **fields}) + "\n")
    _stdout.flush()


def progress(message, **fields):
    emit("progress", message=message, **fields)


def run_main(main):
    """Runs main() with library chatter sent to stderr; turns SvcPyError into an error event."""
    sys.stdout = sys.stderr
    try:
        result = main()
        # Under torchrun (RANK set) every process runs main(); only rank 0 reports the job's result.
        if os.environ.get("RANK", "0") == "0":
            emit("result", **(result or {}))
        return 0
    except SvcPyError as error:
        emit("error", code=error.code, message=error.message, hint=error.hint)
        return 1
    except Exception as error:
        known = _os_error(error) if isinstance(error, OSError) else None
        if known is not None:
            emit("error", code=known.code, message=known.message, hint=known.hint)
            return 1
        # A bug, not a user error: keep the traceback on stderr.
        import traceback
        traceback.print_exc()
        emit("error", code="INTERNAL", message=f"{type(error).__name__}: {error}", hint=None)
        return 1
    finally:
        sys.stdout = _stdout


def _os_error(error):
    """A full disk or a permission problem as a user error naming the path (like src/errors.ts ioError)."""
    path = error.filename or "an output file"
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return SvcPyError("DISK_FULL", f"the disk holding {path} is full", "free space on that disk or write somewhere else")
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return SvcPyError("PERMISSION_DENIED", f"permission denied for {path}", "fix the permissions of that path or pick another one")
    return None
