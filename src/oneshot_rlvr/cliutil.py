"""Pieces every subcommand shares: the bad-input error, argument types, atomic output files.

A subcommand raises ``CommandError("what is wrong; how to fix it")`` for bad input; ``cli.main`` prints
it as one ``error:`` line and returns its status (2). Output files are written whole or not at all. One run
per output folder: ``lock_output_dir`` holds a folder until the command ends (``output_locks`` in ``cli.main``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shlex
import sys
import tempfile
from dataclasses import dataclass
from typing import TextIO

try:
    import fcntl
except ImportError:  # Windows has no flock: there a second run into a folder in use is not refused
    fcntl = None

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class CommandError(Exception):
    """Bad input found by a subcommand: printed as one ``error:`` line, exit status 2 (or ``status``)."""

    def __init__(self, message: str, status: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.status = status


# --- argument types ---------------------------------------------------------------------------------

@contextlib.contextmanager
def library_errors(*errors: type[Exception], status: int = EXIT_USAGE):
    """Turn the library's ``errors`` raised inside into a CommandError with the same message: what the library
    refuses is the command's bad input (a RecipeError, a PoolError, a ModelError ...)."""
    try:
        yield
    except errors as error:
        raise CommandError(str(error), status=status) from None


def _positive_number(text: str, unit: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of {unit}, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of {unit}, got {text!r}")
    return value


def positive_seconds(text: str) -> float:
    return _positive_number(text, "seconds")


def positive_minutes(text: str) -> float:
    return _positive_number(text, "minutes")


def seed_int(text: str) -> int:
    """A run seed: a whole number in numpy's seed range (seeds.SEED_LIMIT), as train, eval and demo take."""
    from .seeds import seed_problem

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    problem = seed_problem(value)
    if problem:
        raise argparse.ArgumentTypeError(f"{problem}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


# --- output -----------------------------------------------------------------------------------------

def json_line(record, stream: TextIO | None = None) -> str:
    """One JSON line; non-ASCII kept as is unless ``stream`` cannot encode it. Text that is not valid Unicode
    (a lone surrogate, as JSON's "\\ud800" reads back) is written escaped, so the line is valid UTF-8 JSON
    that reads back to the same value."""
    encoding = (getattr(stream, "encoding", None) or "utf-8") if stream is not None else "utf-8"
    plain = encoding.lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig")
    text = json.dumps(record, ensure_ascii=not plain)
    if plain:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = json.dumps(record, ensure_ascii=True)
    return text + "\n"


def why_not_a_file(path) -> str:
    """Why an input ``path`` that is not a regular file cannot be read: for messages "PATH: <why>; <fix>"."""
    if os.path.isdir(path):
        return "is a folder, not a file"
    if os.path.exists(path):
        return "is not a regular file (a pipe or a device)"
    return "no such file"


def check_output_path(path: str) -> None:
    """Fail before any work when ``path`` cannot be written (bad input: nothing is graded)."""
    if not path:
        raise CommandError("--out is empty; give a file name")
    if os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path):
        raise CommandError(f"{path}: exists and is not a regular file (a device, pipe or socket); the result is "
                           f"written whole to a temporary file and renamed onto --out, which would replace it; "
                           f"give a file name")
    if os.path.isdir(path):
        raise CommandError(f"{path}: is a directory; give --out a file name")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise CommandError(f"{path}: directory {directory} does not exist; create it or choose another --out")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise CommandError(f"{path}: cannot write in {directory} (permission denied); choose another --out")


def nearest_existing(folder: str) -> str:
    """``folder`` (absolute) or its nearest ancestor that exists: a folder made with its parents is made there."""
    while not os.path.exists(folder):
        folder = os.path.dirname(folder)
    return folder


def check_output_dir(path: str, flag: str = "--out") -> None:
    """Fail before any work when the folder ``path`` cannot be made or written in (bad input: nothing is run)."""
    if not str(path):
        raise CommandError(f"{flag} is empty; give a folder")
    folder = os.path.abspath(path)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise CommandError(f"{flag} {path}: is a file; give a folder")
    ancestor = nearest_existing(folder)
    if not os.path.isdir(ancestor):
        raise CommandError(f"{flag} {path}: {ancestor} is a file, so the folder cannot be made; choose another {flag}")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise CommandError(f"{flag} {path}: cannot write in {ancestor} (permission denied); choose another {flag}")


def replace_atomically(path: str, write) -> None:
    """Call ``write(temporary_path)`` for a temporary file beside ``path``, then ``os.replace`` it onto ``path``.

    On any failure the temporary file is removed and ``path`` is left as it was. A ``path`` that exists as
    something other than a file or a link to one (a device such as /dev/null, a pipe) is refused: renaming
    onto it would replace it.
    """
    if os.path.exists(path) and not os.path.isfile(path):
        raise CommandError(f"{path}: exists and is not a regular file; give a file name")
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    os.close(handle)
    try:
        write(temporary)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def write_atomically(path: str, lines: list[str]) -> None:
    """Write ``lines`` to ``path`` all at once (``replace_atomically``): whole or not at all."""
    def write(temporary: str) -> None:
        with open(temporary, "w", encoding="utf-8", newline="\n") as stream:
            stream.writelines(lines)
            stream.flush()
            os.fsync(stream.fileno())

    replace_atomically(path, write)


# --- one run per output folder ----------------------------------------------------------------------

LOCK_FILE = ".oneshot-rlvr.lock"  # in the output folder; holds "PID COMMAND"; removed when the command ends


@dataclass
class _Lock:
    fd: int
    path: str
    made: list[str]  # folders made to hold the lock file, deepest first: removed again if left empty


_locks: dict[str, _Lock] = {}
_command_line = shlex.join(sys.argv)  # written into lock files; cli.main sets the command it runs


class _Held(Exception):
    """The lock is held by another process; the message names it."""


def is_main_process() -> bool:
    """False in the other processes of ``accelerate launch`` / torchrun: they share the main one's output folder."""
    return (os.environ.get("RANK") or os.environ.get("LOCAL_RANK") or "0") == "0"


def _take(path: str) -> int:
    """The descriptor of ``path`` locked (flock, exclusive); _Held when another process holds it."""
    for _ in range(10):  # a holder ending removes the file: a lock taken on the removed file is taken again
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)  # never truncate a file a link points at
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip().split(" ", 1)
            os.close(fd)
            raise _Held(f"pid {holder[0]} ({holder[1]})" if len(holder) == 2 else "another process") from None
        except BaseException:
            os.close(fd)
            raise
        try:
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)
    raise _Held("another process (its lock file keeps being replaced)")


def lock_output_dir(folder, *, create: bool = True) -> None:
    """Hold ``folder`` for this command, until ``output_locks`` ends; CommandError (status 2) naming the holder
    when another process holds it. The lock is an advisory flock on ``folder/.oneshot-rlvr.lock``: the kernel
    drops it when the process dies, so a crash leaves no stale lock (only the file, taken over by the next run).
    Commands take it before they check what the folder holds, which would misread a run in progress (its
    journal, its metrics) as one that stopped.

    ``create``: make ``folder`` (and its parents) to put the lock file in; the ones made are removed again at
    the end if left empty, so a command refused as bad input afterwards still leaves nothing. Without it, or
    where the folder cannot be made or the lock file written, nothing is locked: the command's own checks
    report that folder, and no run can write there. Only the main process of a distributed launch locks."""
    if fcntl is None or not folder or not is_main_process():
        return
    folder = os.path.abspath(folder)
    if folder in _locks:
        return
    made: list[str] = []
    try:
        if create and not os.path.isdir(folder):
            missing = folder
            while not os.path.exists(missing):
                made.append(missing)
                missing = os.path.dirname(missing)
            os.makedirs(folder)
        path = os.path.join(folder, LOCK_FILE)
        fd = _take(path)
    except _Held as held:
        raise CommandError(f"{folder}: in use by {held}; one run per output folder: wait for it to end or choose "
                           f"another folder") from None
    except OSError:
        _remove_empty(made)
        return
    try:  # who holds it, for the message of a run refused; without it (a full disk) the lock still holds
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {_command_line}\n".encode("utf-8", "backslashreplace"), 0)
    except OSError:
        pass
    _locks[folder] = _Lock(fd, path, made)


def _remove_empty(folders: list[str]) -> None:
    for folder in folders:
        try:
            os.rmdir(folder)
        except OSError:  # not empty: the command wrote there
            return


def release_output_dirs() -> None:
    """Give up every folder this command holds: remove its lock file (while still locked, so that nobody takes
    the file being removed), unlock, and remove the folders the lock made if they are left empty."""
    while _locks:
        _, lock = _locks.popitem()
        try:
            if os.path.samestat(os.fstat(lock.fd), os.stat(lock.path)):
                os.unlink(lock.path)
        except OSError:  # removed with its folder already
            pass
        os.close(lock.fd)
        _remove_empty(lock.made)


@contextlib.contextmanager
def output_locks(command_line: str):
    """The span of one command's folder locks (``cli.main``): lock files name ``command_line``; all released at
    the end, whether the command succeeded, failed or was interrupted."""
    global _command_line
    _command_line = command_line
    try:
        yield
    finally:
        release_output_dirs()
