"""The symbolic stage, time-boxed in worker processes that can be killed.

Workers are plain ``subprocess``es, which also start from daemonic pool processes: math-verify / sympy can run
for minutes and a thread cannot be stopped, a process can (why: docs/grader.md).

Protocol: one JSON line per request ``{"pred": [text, percent, equation], "gold": [...], "seconds": s}``
(or, for grader qwen25-math, ``{"grader": "qwen25-math", "response", "gold", "benchmark", "seconds"}``)
and one per answer ``{"equal": bool, "reason": str[, "detail": str]}``. The worker times each verdict
itself (``setitimer`` on its main thread, ``WORKER_MARGIN_SECONDS`` before the parent's deadline) and
answers "timeout"; should it not answer by the deadline, the parent kills it, answers "timeout" and
starts a replacement at once.

Only math-verify's LaTeX parser is used (``LatexExtractionConfig``): its plain-expression parser goes
through sympy's ``parse_expr``, which calls ``eval``. Model output is never executed. The worker also
caps its own address space (``WORKER_MEMORY_BYTES``) so a huge expansion fails instead of swapping.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time

from .compare import compare
from .normalize import Normalized

WORKER_MEMORY_BYTES = 4 * 1024**3
STARTUP_TIMEOUT_SECONDS = 60.0
WORKER_MARGIN_SECONDS = 0.1  # the worker gives up this long before the parent would kill it


# --- inside the worker process ----------------------------------------------------------------------

class _VerdictTimeout(BaseException):
    """Raised by the worker's own alarm; a BaseException so that no ``except Exception`` in sympy or
    math-verify swallows it and turns a timeout into a (cached) "mismatch"."""


def _on_alarm(signum, frame):
    raise _VerdictTimeout()


def math_verify_equal(pred: str, gold: str) -> bool:
    """math-verify's verdict on two LaTeX answers; two equations: ``equations_proportional``.

    Its own alarms are off: the worker times the verdict.
    """
    import sympy
    from math_verify import LatexExtractionConfig, parse, verify

    config = [LatexExtractionConfig(boxed_match_priority=0)]
    gold_parsed = parse(f"$\\boxed{{{gold}}}$", extraction_config=config, parsing_timeout=None)
    pred_parsed = parse(f"$\\boxed{{{pred}}}$", extraction_config=config, parsing_timeout=None)
    if not gold_parsed or not pred_parsed:
        return False
    if isinstance(gold_parsed[0], sympy.Equality) and isinstance(pred_parsed[0], sympy.Equality):
        # math-verify's own rules for two equations call `N=n+1` equal to `N=n`
        return equations_proportional(pred_parsed[0], gold_parsed[0])
    return bool(verify(gold_parsed, pred_parsed, timeout_seconds=None))


def equations_proportional(pred, gold) -> bool:
    """True for two sympy equations whose lhs - rhs differ by a nonzero constant factor only
    (``y = 3x - 2`` and ``3x - y - 2 = 0``): the same solution set. ``cancel`` decides it exactly."""
    import sympy

    pred_side, gold_side = pred.lhs - pred.rhs, gold.lhs - gold.rhs
    if pred_side == 0 or gold_side == 0 or not pred_side.free_symbols:
        return False
    ratio = sympy.cancel(sympy.together(gold_side / pred_side))
    return not ratio.free_symbols and ratio.is_number and ratio != 0 and bool(ratio.is_finite)


def _answer(request: dict) -> dict:
    signal.setitimer(signal.ITIMER_REAL, max(0.01, request["seconds"]))
    try:
        if request.get("grader") == "qwen25-math":  # that grader's whole verdict (grading/qwen25.py)
            from .qwen25 import worker_answer

            return worker_answer(request)
        pred, gold = Normalized(*request["pred"]), Normalized(*request["gold"])
        equal, reason = compare(pred, gold, math_verify_equal)
        return {"equal": bool(equal), "reason": reason}
    except _VerdictTimeout:
        return {"equal": False, "reason": "timeout", "detail": "symbolic check exceeded the limit"}
    except Exception as error:  # noqa: BLE001  a parser failure is a wrong answer, not a crash
        return {"equal": False, "reason": "error", "detail": f"{type(error).__name__}: {error}"[:300]}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _serve() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_BYTES, WORKER_MEMORY_BYTES))
    except (ImportError, ValueError, OSError):  # not on every platform; the parent's kill still holds
        pass
    import math_verify  # noqa: F401  (import before "ready": startup is not part of a verdict)

    from . import qwen25  # noqa: F401

    signal.signal(signal.SIGALRM, _on_alarm)
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        out.write(json.dumps(_answer(json.loads(line))) + "\n")
        out.flush()


# --- in the parent ----------------------------------------------------------------------------------

class _Worker:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "oneshot_rlvr.grading.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        self._buffer = b""
        self.ready = False

    def read_line(self, deadline: float) -> bytes | None:
        """The next line from the worker, or None when the deadline passes or it died."""
        fd = self.process.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def wait_ready(self, deadline: float) -> bool:
        if not self.ready:
            self.ready = self.read_line(deadline) == b"ready"
        return self.ready

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass


class SymbolicPool:
    """Up to ``size`` worker processes shared by all threads of this process."""

    def __init__(self, size: int = 2) -> None:
        self.size = max(1, size)
        self._idle: list[_Worker] = []
        self._running = 0
        self._condition = threading.Condition()
        self._pid = os.getpid()

    def _acquire(self, deadline: float) -> _Worker | None:
        with self._condition:
            while True:
                if self._idle:
                    return self._idle.pop()
                if self._running < self.size:
                    self._running += 1
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._condition.wait(remaining):
                    return None
        try:
            return _Worker()
        except OSError:
            self._discard(None)
            raise

    def _release(self, worker: _Worker) -> None:
        with self._condition:
            self._idle.append(worker)
            self._condition.notify()

    def _discard(self, worker: _Worker | None, replace: bool = False) -> None:
        """Kill ``worker``; with ``replace``, start its successor now so the next verdict finds it warm."""
        if worker is not None:
            worker.kill()
        successor = None
        if replace:
            try:
                successor = _Worker()
            except OSError:
                successor = None
        with self._condition:
            if successor is not None:
                self._idle.append(successor)
            else:
                self._running -= 1
            self._condition.notify()

    def warm_up(self, count: int | None = None) -> None:
        """Start workers now and wait until they are ready, so no verdict pays for their start."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        workers = [w for w in (self._acquire(deadline) for _ in range(count or self.size)) if w]
        for worker in workers:
            if worker.wait_ready(deadline):
                self._release(worker)
            else:
                self._discard(worker)

    def check(self, pred: Normalized, gold: Normalized, deadline: float) -> dict:
        """The worker's answer ``{"equal", "reason"[, "detail"]}``; "timeout" when the deadline passes."""
        return self.ask({"pred": [pred.text, pred.percent, pred.equation],
                         "gold": [gold.text, gold.percent, gold.equation]}, deadline)

    def ask(self, request: dict, deadline: float) -> dict:
        """Send ``request`` (plus the seconds left) to a worker; its answer, or "timeout" when the deadline passes."""
        worker = self._acquire(deadline)
        if worker is None:
            return {"equal": False, "reason": "timeout", "detail": "no free worker before the deadline"}
        try:
            if not worker.wait_ready(deadline):
                self._release(worker)  # still starting: the next request will find it ready
                return {"equal": False, "reason": "timeout", "detail": "worker did not start in time"}
            seconds = deadline - time.monotonic() - WORKER_MARGIN_SECONDS
            request = {**request, "seconds": seconds}
            worker.process.stdin.write((json.dumps(request) + "\n").encode())
            worker.process.stdin.flush()
            line = worker.read_line(deadline)
        except Exception as error:  # noqa: BLE001  never lose a slot: the worker's state is unknown
            self._discard(worker)
            return {"equal": False, "reason": "error", "detail": f"worker failed: {type(error).__name__}: {error}"}
        if line is None:
            self._discard(worker, replace=True)
            return {"equal": False, "reason": "timeout", "detail": "symbolic check exceeded the limit"}
        self._release(worker)
        return json.loads(line)

    def close(self) -> None:
        with self._condition:
            idle, self._idle = self._idle, []
        for worker in idle:
            self._discard(worker)


_POOL: SymbolicPool | None = None
_POOL_LOCK = threading.Lock()


def shared_pool(size: int | None = None) -> SymbolicPool:
    """This process's pool (a forked child gets its own: its parent's pipes are not its to use)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL._pid != os.getpid():
            _POOL = SymbolicPool(size or min(4, os.cpu_count() or 1))
        elif size and size > _POOL.size:
            _POOL.size = size
        return _POOL


@atexit.register
def _close_pool() -> None:
    if _POOL is not None and _POOL._pid == os.getpid():
        _POOL.close()


if __name__ == "__main__":
    _serve()
