"""One verifiable-answer grader, shared by the training reward and by evaluation.

    grade(response, gold, mode="lenient") -> Verdict
    grade_many([(response, gold), ...], workers=4) -> [Verdict, ...]   (same order)

Pipeline: ``extract_answer`` (strict: last boxed; lenient: the Qwen2.5-Math evaluator's order) →
``normalize_answer`` (both sides) → ``compare``: normalised string match → exact numeric → tuples /
intervals / sets element by element → symbolic (math-verify, in a killable worker process).

Every verdict has a hard wall-clock limit (default 3 s): a timeout is a wrong answer with reason
"timeout", never an exception, from any thread or process. The in-process stages are linear-time; only
the symbolic stage runs in a worker, which is killed at the deadline. Starting a worker (~1 s, once)
counts against the first verdict that needs one unless ``warm_up()`` ran first; ``grade_many``, the
CLI and the reward functions warm up. Model output is never executed.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from threading import Lock
from typing import Iterable

from .compare import compare, has_several_answers
from .extract import MODES, extract_answer, extract_for_gold, gold_answer, has_boxed, last_boxed
from .normalize import Normalized, normalize_answer
from .worker import shared_pool

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS", "MODES", "REASONS", "Verdict", "check_options", "extract_answer", "grade",
    "grade_many",
    "has_boxed", "last_boxed", "normalize_answer", "warm_up",
]

DEFAULT_TIMEOUT_SECONDS = 3.0
KILL_MARGIN_SECONDS = 0.05  # the worker is killed this long before the limit, so verdicts end within it
MAX_ANSWER_CHARS = 5_000  # longer extracted answers are compared as raw strings only
MAX_SYMBOLIC_CHARS = 1_000  # longer normalised answers never reach the symbolic stage
REASONS = ("match", "numeric", "structure", "symbolic", "mismatch", "no-answer", "timeout", "error")


@dataclass(frozen=True)
class Verdict:
    """The grader's decision.

    ``reason``: for a correct answer, the stage that proved it — "match" (normalised strings equal),
    "numeric", "structure" (element by element), "symbolic"; for a wrong one, "mismatch" (every stage
    ran), "no-answer" (nothing extracted), "timeout" (the limit passed) or "error" (a parser failed).
    """

    correct: bool
    extracted: str | None
    reason: str
    detail: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


class _SymbolicCache:
    """Recent symbolic outcomes: RL groups repeat the same answers many times."""

    def __init__(self, size: int = 65536) -> None:
        self._items: OrderedDict = OrderedDict()
        self._size = size
        self._lock = Lock()

    def get(self, key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            if len(self._items) > self._size:
                self._items.popitem(last=False)


_CACHE = _SymbolicCache()


def warm_up(workers: int | None = None) -> None:
    """Start the symbolic workers now (their start-up then never counts against a verdict)."""
    shared_pool(workers).warm_up()


def check_options(mode: str, timeout: float) -> None:
    """Raise ValueError for an unknown mode or a timeout that is not a positive number of seconds."""
    if mode not in MODES:
        raise ValueError(f"grading mode must be one of {MODES}, got {mode!r}")
    if not (isinstance(timeout, (int, float)) and 0 < timeout < float("inf")):
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")


def _check_gold(gold) -> None:
    if gold is None or not str(gold).strip():
        raise ValueError(f"gold answer is empty ({gold!r}); every pair needs a gold answer")


def _fast(response: str, gold, mode: str) -> Verdict | tuple[str, Normalized, Normalized]:
    """A Verdict from the in-process stages, or (extracted, pred, gold) for the symbolic stage."""
    gold_text = gold_answer(str(gold))  # a gold with several boxes is all of them
    gold_norm = normalize_answer(gold_text)
    extracted = extract_for_gold(str(response), mode, has_several_answers(gold_norm.text))
    if extracted is None:
        return Verdict(False, None, "no-answer")
    if len(extracted) > MAX_ANSWER_CHARS:
        same = extracted.strip() == gold_text.strip()
        return Verdict(same, extracted, "match" if same else "mismatch", "answer too long to normalise")
    pred = normalize_answer(extracted)
    equal, reason = compare(pred, gold_norm, None)
    if equal is None and max(len(pred.text), len(gold_norm.text)) > MAX_SYMBOLIC_CHARS:
        return Verdict(False, extracted, "mismatch", "answer too long for the symbolic stage")
    if equal is None:
        cached = _CACHE.get((pred, gold_norm))
        if cached is None:
            return extracted, pred, gold_norm
        equal, reason = cached
    return Verdict(bool(equal), extracted, reason if equal else "mismatch")


def _symbolic(extracted: str, pred: Normalized, gold: Normalized, deadline: float) -> Verdict:
    answer = shared_pool().check(pred, gold, deadline)
    equal, reason = bool(answer["equal"]), answer["reason"]
    if reason not in ("timeout", "error"):
        _CACHE.put((pred, gold), (equal, reason))
        reason = reason if equal else "mismatch"
    return Verdict(equal, extracted, reason, answer.get("detail"))


def grade(response: str, gold, *, mode: str = "lenient", timeout: float = DEFAULT_TIMEOUT_SECONDS) -> Verdict:
    """Is the final answer in ``response`` equal to ``gold``?

    Never raises for any model output; raises ValueError for an empty gold, an unknown mode or a
    timeout that is not a positive number.
    """
    check_options(mode, timeout)
    _check_gold(gold)
    deadline = time.monotonic() + timeout - KILL_MARGIN_SECONDS
    try:
        fast = _fast(response, gold, mode)
        if isinstance(fast, Verdict):
            return fast
        return _symbolic(*fast, deadline=deadline)
    except Exception as error:  # noqa: BLE001  any failure on model output is a wrong answer
        return Verdict(False, None, "error", f"{type(error).__name__}: {error}"[:300])


def grade_many(pairs: Iterable[tuple[str, object]], *, mode: str = "lenient", workers: int = 2,
               timeout: float = DEFAULT_TIMEOUT_SECONDS) -> list[Verdict]:
    """Grade (response, gold) pairs: common cases in-process, symbolic ones on ``workers`` processes.

    The result is in input order. Each pair keeps its own ``timeout`` from the moment its symbolic
    check is submitted.
    """
    check_options(mode, timeout)
    pairs = list(pairs)
    for _, gold in pairs:
        _check_gold(gold)
    results: list[Verdict | None] = []
    pending: list[tuple[int, tuple]] = []
    for index, (response, gold) in enumerate(pairs):
        try:
            fast = _fast(response, gold, mode)
        except Exception as error:  # noqa: BLE001
            fast = Verdict(False, None, "error", f"{type(error).__name__}: {error}"[:300])
        results.append(fast if isinstance(fast, Verdict) else None)
        if not isinstance(fast, Verdict):
            pending.append((index, fast))
    if pending:
        shared_pool(workers).warm_up()

        def run(item: tuple[int, tuple]) -> tuple[int, Verdict]:
            index, (extracted, pred, gold_norm) = item
            try:
                return index, _symbolic(extracted, pred, gold_norm, time.monotonic() + timeout - KILL_MARGIN_SECONDS)
            except Exception as error:  # noqa: BLE001
                return index, Verdict(False, extracted, "error", f"{type(error).__name__}: {error}"[:300])

        with ThreadPoolExecutor(max_workers=max(1, workers)) as executor:
            for index, verdict in executor.map(run, pending):
                results[index] = verdict
    return results  # type: ignore[return-value]
