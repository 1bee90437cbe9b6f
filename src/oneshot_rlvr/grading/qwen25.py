"""Grader ``qwen25-math``: the verdicts of the Qwen2.5-Math evaluator (the paper's evaluation), quirks included.

For comparing with the paper's tables. Ported from QwenLM/Qwen2.5-Math ``evaluation/`` (``parser.py``,
``grader.py``, ``math_eval.py``, ``evaluate.py``); extraction and ``strip_string`` are in ``qwen25_rules.py``.
``grade`` / ``grade_many`` return the project's ``Verdict``: ``extracted`` is the prediction as Qwen compares it
(after ``strip_string``), ``reason`` the stage that decided. ``mode="strict"``: the same verdict, counted only when
the response holds a complete ``\\boxed{}``; otherwise wrong with reason ``no-answer``.

Departures, for safety or because the original cannot run here:
- symbolic: math-verify's LaTeX parser in the project's killable worker, then Qwen's checks on what it parsed,
  instead of sympy's ``parse_expr`` (which runs ``eval``) and ``simplify`` in-process; a few verdicts can differ;
- a hard time limit over the whole verdict (default 3 s, Qwen's pool limit; a timeout is wrong);
- only the branches of the project's benchmarks; responses over 2M characters keep their last 2M.

Qwen's rules and the departures in full: docs/grader.md.
"""

from __future__ import annotations

import math
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable

from . import DEFAULT_TIMEOUT_SECONDS, KILL_MARGIN_SECONDS, Verdict, check_options, has_boxed
from .qwen25_rules import CHOICES, choice_clean, choice_in_response, extract_raw, strip_string
from .worker import shared_pool

NAME = "qwen25-math"
UNIT_KEEPING_BENCHMARKS = ("minerva_math", "carp_en")  # Qwen's STRIP_EXCEPTIONS
MAX_IN_PROCESS_CHARS = 2_000  # longer answers are stripped and compared in the worker, under the limit
_LIST = re.compile(r"(\(|\[).+(\)|\])")  # matched at the start only, as regex.match in the original
_MATRIX_OPEN, _MATRIX_CLOSE = ("\\begin{pmatrix}", "\\begin{bmatrix}"), ("\\end{pmatrix}", "\\end{bmatrix}")

Symbolic = Callable[[str, str], bool]


class NeedsWorker(Exception):
    """The verdict needs the symbolic stage (or long strings): re-run it in the worker."""


def _no_symbolic(prediction: str, reference: str) -> bool:
    raise NeedsWorker


# --- math_equal (grader.py) --------------------------------------------------------------------------

def parse_digits(text: str) -> float | None:
    text = str(text).replace(",", "")
    try:
        return float(text)  # Python's float: "52_9" is 529, "inf" and "nan" are numbers
    except ValueError:
        if text.endswith("%"):
            text = text[:-1].removesuffix("\\")
            try:
                return float(text) / 100
            except ValueError:
                pass
    return None


def numeric_equal(prediction: float, reference: float) -> bool:
    return math.isclose(reference, prediction, rel_tol=1e-4)


def str_to_pmatrix(text: str) -> str:
    rows = re.findall(r"\{.*,.*\}", text.strip())
    return ", ".join("\\begin{pmatrix}" + row.strip("{}").replace(",", "\\") + "\\end{pmatrix}" for row in rows)


def _strip_brackets(prediction: str, reference: str) -> tuple[str, str]:
    pred, ref = prediction, reference
    if (prediction.startswith("[") and prediction.endswith("]") and not reference.startswith("(")) or (
            prediction.startswith("(") and prediction.endswith(")") and not reference.startswith("[")):
        pred, ref = pred.strip("[]()"), ref.strip("[]()")
    for bracket in "{}()":
        pred, ref = pred.replace(bracket, ""), ref.replace(bracket, "")
    return pred, ref


def _matrix_cells(text: str) -> list[list[str]]:
    body = text[len("\\begin{pmatrix}"): -len("\\end{pmatrix}")]
    return [line.strip().split("&") for line in body.split("\\\\") if line.strip()]


def _is_matrix(text: str) -> bool:
    return text.startswith(_MATRIX_OPEN) and text.endswith(_MATRIX_CLOSE)


def math_equal(prediction: str, reference: str, symbolic: Symbolic) -> str | None:
    """grader.py's ``math_equal``: the deciding stage when equal, else None."""
    if prediction.strip().lower() == reference.strip().lower():
        return "match"
    if reference in CHOICES and choice_clean(prediction) == reference:
        return "match"
    pred_number, ref_number = parse_digits(prediction), parse_digits(reference)
    if pred_number is not None and ref_number is not None:  # final: two numbers never reach the symbolic stage
        targets = (ref_number / 100, ref_number, ref_number * 100)
        return "numeric" if any(numeric_equal(pred_number, target) for target in targets) else None
    if not prediction:
        return None
    prediction, reference = prediction.strip(), reference.strip()
    if "pmatrix" in prediction and "pmatrix" not in reference:
        reference = str_to_pmatrix(reference)
    pred_bare, ref_bare = _strip_brackets(prediction, reference)
    if pred_bare.lower() == ref_bare.lower():
        return "match"
    if _LIST.match(prediction) and _LIST.match(reference):
        pred_parts, ref_parts = prediction[1:-1].split(","), reference[1:-1].split(",")
        if len(pred_parts) == len(ref_parts) and all(
                math_equal(p, r, symbolic) for p, r in zip(pred_parts, ref_parts)):
            return "structure"
    if _is_matrix(prediction) and _is_matrix(reference):
        pred_rows, ref_rows = _matrix_cells(prediction), _matrix_cells(reference)
        if len(pred_rows) == len(ref_rows) and all(
                len(p) == len(r) and all(math_equal(a, b, symbolic) for a, b in zip(p, r))
                for p, r in zip(pred_rows, ref_rows)):
            return "structure"
    if prediction.count("=") == 1 and reference.count("=") == 1:
        pred_zero, ref_zero = (f"{lhs.strip()} - ({rhs.strip()})" for lhs, rhs in
                               (prediction.split("="), reference.split("=")))
        if symbolic(pred_zero, ref_zero) or symbolic(f"-({pred_zero})", ref_zero):
            return "structure"
    elif prediction.count("=") == 1 and len(prediction.split("=")[0].strip()) <= 2 and "=" not in reference:
        if math_equal(prediction.split("=")[1], reference, symbolic):
            return "structure"
    elif reference.count("=") == 1 and len(reference.split("=")[0].strip()) <= 2 and "=" not in prediction:
        if math_equal(prediction, reference.split("=")[1], symbolic):
            return "structure"
    return "symbolic" if symbolic(prediction, reference) else None


# --- the symbolic stage (in the worker only) ---------------------------------------------------------

def parse_latex_prefix(text: str) -> str:
    """What sympy's ``parse_latex`` reads of ``text``: the longest prefix its grammar parses. It stops at a
    top-level comma (``3,x`` is 3; ``1,000`` is one number) or an unmatched closing bracket, and drops a
    dangling final operator (``5+`` is 5)."""
    depth, kept, decimals = 0, [], False  # decimals: inside the digits after a decimal point
    for index, char in enumerate(text):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif char == "," and depth == 0:
            if text[index - 1: index].isdigit() and not decimals and re.match(r"\d{3}", text[index + 1: index + 4]):
                continue  # a thousands separator: part of the number
            break
        decimals = char == "." or (decimals and char.isdigit())
        kept.append(char)
    prefix = "".join(kept)
    while True:  # drop dangling operators, one at a time (linear, unlike a backtracking regex)
        shorter = prefix.rstrip().removesuffix("\\cdot").removesuffix("\\times").rstrip().rstrip("+-*/^")
        if shorter == prefix:
            return prefix
        prefix = shorter


def _parse(text: str):
    """Qwen's ``_parse`` with math-verify's LaTeX parser: a sympy object, else the text itself."""
    import sympy
    from math_verify import LatexExtractionConfig, parse

    config = [LatexExtractionConfig(boxed_match_priority=0)]
    for candidate in (text.replace("\\\\", "\\"), text):
        candidate = parse_latex_prefix(candidate)
        parsed = parse(f"$\\boxed{{{candidate}}}$", extraction_config=config, parsing_timeout=None)
        if parsed and isinstance(parsed[0], sympy.Basic):
            # sympy's parse_latex reads \pi and e as plain symbols; keep its verdicts on 3.1416 vs \pi
            return parsed[0].subs({sympy.pi: sympy.Symbol("pi"), sympy.E: sympy.Symbol("e")})
    return text


def symbolic_equal(prediction: str, reference: str) -> bool:
    """grader.py's ``symbolic_equal`` on what math-verify parsed. Nothing is executed."""
    from sympy import N, simplify

    a, b = _parse(prediction), _parse(reference)
    checks = (
        lambda: str(a) == str(b) or a == b,
        lambda: a.equals(b) or simplify(a - b) == 0,
        lambda: abs(a.lhs - a.rhs).equals(abs(b.lhs - b.rhs)),
        lambda: numeric_equal(float(N(a)), float(N(b))),
        lambda: a.shape == b.shape and a.applyfunc(lambda x: round(x, 3)).equals(b.applyfunc(lambda x: round(x, 3))),
    )
    for check in checks:
        try:
            if check():
                return True
        except Exception:  # noqa: BLE001  as the original: a check that cannot apply is no verdict
            continue
    return False


# --- one verdict -------------------------------------------------------------------------------------

def decide(response: str, gold, benchmark: str | None = None, *, symbolic: Symbolic = _no_symbolic,
           max_chars: int | None = MAX_IN_PROCESS_CHARS) -> Verdict:
    """The evaluator's verdict. With the default ``symbolic`` it raises NeedsWorker where the worker must decide."""
    keep_units = benchmark in UNIT_KEEPING_BENCHMARKS
    gold = str(gold)
    if max_chars is not None and len(gold) > max_chars:
        raise NeedsWorker
    reference = strip_string(gold, skip_unit=keep_units)  # parse_ground_truth: once (minerva: via extract_answer)
    response = str(response).strip()
    if not response or response == "error":  # run_execute: no prediction at all
        return Verdict(False, None, "no-answer")
    raw = extract_raw(response)
    if max_chars is not None and len(raw) > max_chars:
        raise NeedsWorker
    prediction = strip_string(strip_string(raw, skip_unit=keep_units), skip_unit=keep_units)
    if reference in CHOICES and prediction not in CHOICES:
        prediction = choice_in_response(response)
    elif all(c in CHOICES for c in reference) and not all(c in CHOICES for c in prediction):
        prediction = "".join(c for c in prediction if c in CHOICES)
    try:
        reason = math_equal(prediction, reference, symbolic)
    except NeedsWorker:
        raise NeedsWorker(prediction) from None  # what was extracted, should the worker run out of time
    if reason is None:
        return Verdict(False, prediction or None, "no-answer" if not prediction else "mismatch")
    return Verdict(True, prediction, reason)


def worker_answer(request: dict) -> dict:
    """The worker's side (``worker.py`` calls it under its timer): the whole verdict, symbolic stage included."""
    verdict = decide(request["response"], request["gold"], request.get("benchmark"), symbolic=symbolic_equal,
                     max_chars=None)
    return {"equal": verdict.correct, "reason": verdict.reason, "extracted": verdict.extracted}


def _error(error: BaseException, extracted: str | None = None) -> Verdict:
    return Verdict(False, extracted, "error", f"{type(error).__name__}: {error}"[:300])


def _in_worker(response: str, gold, benchmark: str | None, deadline: float, extracted: str | None) -> Verdict:
    answer = shared_pool().ask({"grader": NAME, "response": response, "gold": str(gold), "benchmark": benchmark},
                               deadline)
    return Verdict(bool(answer["equal"]), answer.get("extracted", extracted), answer["reason"], answer.get("detail"))


def grade_many(pairs: Iterable[tuple[str, object]], *, mode: str = "lenient", workers: int = 2,
               timeout: float = DEFAULT_TIMEOUT_SECONDS, benchmark: str | None = None) -> list[Verdict]:
    """Qwen's verdict on each (response, gold), in input order; symbolic ones on ``workers`` killable processes."""
    check_options(mode, timeout)
    pairs = [(str(response), gold) for response, gold in pairs]
    for _, gold in pairs:
        if gold is None or not str(gold).strip():
            raise ValueError(f"gold answer is empty ({gold!r}); every pair needs a gold answer")
    results: list[Verdict | None] = []
    pending: list[tuple[int, str | None]] = []  # (index, the prediction when stripping got that far)
    for index, (response, gold) in enumerate(pairs):
        if mode == "strict" and not has_boxed(response):
            results.append(Verdict(False, None, "no-answer", "strict: no complete \\boxed{}"))
            continue
        try:
            results.append(decide(response, gold, benchmark))
        except NeedsWorker as needs:
            results.append(None)
            pending.append((index, needs.args[0] if needs.args else None))
        except Exception as error:  # noqa: BLE001  any failure on model output is a wrong answer
            results.append(_error(error))
    if pending:
        shared_pool(workers).warm_up()

        def run(item: tuple[int, str | None]) -> tuple[int, Verdict]:
            index, extracted = item
            response, gold = pairs[index]
            deadline = time.monotonic() + timeout - KILL_MARGIN_SECONDS
            try:
                return index, _in_worker(response, gold, benchmark, deadline, extracted)
            except Exception as error:  # noqa: BLE001
                return index, _error(error, extracted)

        with ThreadPoolExecutor(max_workers=max(1, workers)) as executor:
            for index, verdict in executor.map(run, pending):
                results[index] = verdict
    return results  # type: ignore[return-value]


def grade(response: str, gold, *, mode: str = "lenient", timeout: float = DEFAULT_TIMEOUT_SECONDS, benchmark: str | None = None) -> Verdict:
    """The Qwen2.5-Math evaluator's verdict on one response; never raises for model output."""
    return grade_many([(response, gold)], mode=mode, workers=1, timeout=timeout, benchmark=benchmark)[0]
