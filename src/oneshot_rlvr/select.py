"""Stage 1: rank training examples by their accuracy history and pick the one(s) to train on.

    oneshot-rlvr select --history ../shared/data/train/acc_step_500.json \\
        --pool ../shared/data/train/dsr_sub.parquet --method var --rank 1 --out pi1.jsonl
    oneshot-rlvr select --history H.json --pool P.parquet --method var --list 20      # the top-20 table

The history is the paper's JSON ``{example_id: [accuracy, ...]}``: each example's training accuracy each
time it was sampled in a full-pool RLVR run. Scores, best first: ``var`` (the paper's: the population
variance of the history), ``std``, ``lim`` (LIMR's learning-impact score, as the original One-Shot-RLVR code
computes it) and ``random`` (a seeded shuffle). Scores are exact (integer arithmetic over a common power-of-two
denominator), so equal scores tie exactly; ties keep the file's order. Rules: docs/selection.md.

``--out FILE.jsonl`` writes ranks K..K+N-1 as a selection file (``train --examples FILE`` reads it)
and prints one JSON line ``{rank, id, score, answer, problem}`` per chosen example; ``--list N``
prints the top-N ranking as a markdown table (before the JSON lines when both are given). ``--rank`` and
``--top`` go with ``--out``, ``--seed`` with ``--method random``; elsewhere they are refused, not ignored.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import reprlib
import sys
from fractions import Fraction
from pathlib import Path

from .cliutil import (EXIT_FAILURE, CommandError, check_output_path, json_line, library_errors, nearest_existing,
                      positive_int, seed_int, why_not_a_file)
from .data.pools import Example, PoolError, load_pool, write_pool_jsonl

HELP = "rank training examples by their accuracy history (the paper's variance score) and pick one"
METHODS = ("var", "std", "lim", "random")


class HistoryError(ValueError):
    """A history, method or rank that cannot be used (one line: what, where, how to fix)."""


def _shown(value) -> str:
    """``value`` for a one-line message: long ones cut short (repr refuses ints over 4300 digits)."""
    if isinstance(value, int) and value.bit_length() > 64:
        return f"an integer of about {round(value.bit_length() * math.log10(2))} digits"
    return reprlib.repr(value)


def _check_history(history) -> None:
    if not isinstance(history, dict):
        raise HistoryError(f"the history is a JSON {type(history).__name__}, not an object "
                           f"{{example_id: [accuracies]}}; give the paper's acc_step_500.json format")
    for key, values in history.items():
        if not isinstance(values, list):
            raise HistoryError(f"example {key!r}: history is a {type(values).__name__}, not a list of accuracies")
        for position, value in enumerate(values):
            # an accuracy is a fraction of rollouts; the range check also keeps huge ints out of float math
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise HistoryError(f"example {key!r}, position {position} (from 0): {_shown(value)} is not an "
                                   f"accuracy; every accuracy must be a number from 0 to 1 such as 0.375")


def _as_integers(history: dict[str, list[float]]) -> tuple[dict[str, list[int]], int]:
    """Each value times Q exactly, and Q: the common power-of-two denominator of every value."""
    ratios = {k: [v.as_integer_ratio() for v in values] for k, values in history.items()}  # exact (p, 2^k)
    q = max((d for pairs in ratios.values() for _, d in pairs), default=1)
    return {k: [p * (q // d) for p, d in pairs] for k, pairs in ratios.items()}, q


def _exact_scores(history: dict[str, list[float]], method: str) -> dict[str, tuple[object, float]]:
    """{id: (exact sort key, float score)} for the examples with a non-empty history."""
    scaled, q = _as_integers({k: v for k, v in history.items() if v})
    scores: dict[str, tuple[object, float]] = {}
    if method in ("var", "std"):
        for key, xs in scaled.items():
            n, total = len(xs), sum(xs)
            spread = Fraction(n * sum(x * x for x in xs) - total * total, n * n)  # variance times q²
            variance = float(spread / (q * q))
            scores[key] = (spread, variance if method == "var" else math.sqrt(variance))
    elif method == "lim" and scaled:
        length, m = min(len(xs) for xs in scaled.values()), len(scaled)
        epoch_sums = [sum(xs[e] for xs in scaled.values()) for e in range(length)]  # m·q·ā_e
        denominator = sum((m * q - a) ** 2 for a in epoch_sums)  # (m·q)² Σ (1 − ā_e)²
        for key, xs in scaled.items():
            numerator = sum((m * x - a) ** 2 for x, a in zip(xs, epoch_sums))  # (m·q)² Σ (s_e − ā_e)²
            if denominator:
                scores[key] = (Fraction(denominator - numerator, denominator), 1 - numerator / denominator)
            else:
                scores[key] = (1, 1.0) if numerator == 0 else (-math.inf, -math.inf)
    return scores


def rank_examples(history: dict[str, list[float]], method: str, seed: int = 0) -> list[tuple[str, float]]:
    """Every example of ``history`` as (id, score), best first (the scores: docs/selection.md)."""
    if method not in METHODS:
        raise HistoryError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    _check_history(history)
    if method == "random":
        rng = random.Random(seed)
        scores = {key: (value, value) for key in history if history[key] for value in [rng.random()]}
    else:
        scores = _exact_scores(history, method)
    ranked = sorted(scores, key=lambda key: scores[key][0], reverse=True)  # stable: ties keep input order
    return [(key, scores[key][1]) for key in ranked] + [(key, math.nan) for key in history if not history[key]]


def _pool_by_id(history: dict, pool: list[Example]) -> dict[str, Example]:
    by_id = {example.id: example for example in pool}
    missing = [key for key in history if key not in by_id]
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise HistoryError(f"history id(s) {', '.join(missing[:5])}{more} are not in the pool of {len(pool)} "
                           f"examples; give the pool the history was recorded on (e.g. dsr_sub.parquet)")
    return by_id


def select(history: dict[str, list[float]], pool: list[Example], method: str, rank: int, top: int = 1,
           seed: int = 0) -> list[tuple[int, Example, float]]:
    """(rank, example, score) for ranks ``rank`` .. ``rank + top - 1`` (1 = best) of ``rank_examples``."""
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise HistoryError(f"--top must be at least 1, got {top!r}")
    ranking = rank_examples(history, method, seed)
    by_id = _pool_by_id(history, pool)
    if top > len(ranking):
        raise HistoryError(f"--top {top} is more than the {len(ranking)} ranked examples; "
                           f"choose --top 1..{len(ranking)}")
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1 or rank + top - 1 > len(ranking):
        span = f" with --top {top}" if top > 1 else ""
        raise HistoryError(f"--rank {rank!r}{span} is out of range; the ranking has {len(ranking)} examples: "
                           f"choose --rank 1..{len(ranking) - top + 1}{span}")
    return [(number, by_id[key], score)
            for number, (key, score) in enumerate(ranking[rank - 1: rank - 1 + top], start=rank)]


def _reject_duplicates(pairs: list[tuple[str, object]]) -> dict:
    result: dict = {}
    for key, value in pairs:
        if key in result:
            raise HistoryError(f"example id {key!r} appears twice; each example needs one history list")
        result[key] = value
    return result


def load_history(path: str | Path) -> dict[str, list[float]]:
    """The history JSON at ``path``, checked (HistoryError names the file and the fault)."""
    path = Path(path)
    if not path.is_file():
        raise HistoryError(f"{path}: {why_not_a_file(path)}; give the accuracy history JSON (train/acc_step_500.json "
                           f"in the shared data)")
    try:
        history = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_reject_duplicates)
    except json.JSONDecodeError as error:
        raise HistoryError(f"{path}:{error.lineno}:{error.colno}: not valid JSON ({error.msg}); "
                           f"the history must be one object {{example_id: [accuracies]}}") from None
    except UnicodeDecodeError:
        raise HistoryError(f"{path}: not UTF-8 text; the history must be a JSON file") from None
    except HistoryError as error:
        raise HistoryError(f"{path}: {error}") from None
    except (ValueError, RecursionError) as error:  # a number past Python's digit limit; deep nesting
        why = "nested too deeply" if isinstance(error, RecursionError) else str(error).split(";")[0]
        raise HistoryError(f"{path}: not readable JSON ({why}); the history must be one object "
                           f"{{example_id: [accuracies]}}") from None
    try:
        _check_history(history)
    except HistoryError as error:
        raise HistoryError(f"{path}: {error}") from None
    if not history:
        raise HistoryError(f"{path}: the history is empty; it needs at least one example")
    return history


def _show(score: float) -> str:
    return "—" if math.isnan(score) else f"{score:.6g}"


def markdown_table(ranking: list[tuple[str, float]], history: dict, by_id: dict[str, Example], count: int) -> str:
    lines = ["| rank | id | score | history length | mean accuracy | answer |", "|---|---|---|---|---|---|"]
    for number, (key, score) in enumerate(ranking[:count], start=1):
        values = history[key]
        mean = f"{math.fsum(values) / len(values):.3f}" if values else "—"
        answer = by_id[key].answer.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {number} | {key} | {_show(score)} | {len(values)} | {mean} | {answer} |")
    return "\n".join(lines)


# --- command line -----------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--history", required=True, help="accuracy history JSON {example_id: [accuracies]}")
    parser.add_argument("--pool", required=True,
                        help="the pool the history was recorded on (verl parquet, JSONL or hub:OWNER/NAME[:SPLIT])")
    parser.add_argument("--method", default="var", choices=METHODS, metavar="|".join(METHODS),
                        help="score: var (default, the paper's), std, lim (LIMR) or random")
    parser.add_argument("--rank", type=int, help="the first rank to select (1 = best); required with --out")
    parser.add_argument("--top", type=int, help="with --out: how many consecutive ranks to select (default 1)")
    parser.add_argument("--seed", type=seed_int, help="with --method random: its seed (default 0)")
    parser.add_argument("--out", help="selection file to write (.jsonl; `train --examples FILE` reads it)")
    parser.add_argument("--list", type=positive_int, metavar="N", help="print the top-N ranking as a markdown table")


def _check_out(path: str) -> None:
    """Refuse an --out that cannot be written, before any work; missing parent folders are made later."""
    if not path:
        raise CommandError("--out is empty; give a file name ending in .jsonl")
    name = os.path.basename(path)
    if not name.endswith(".jsonl") or name == ".jsonl" or os.path.isdir(path):
        raise CommandError(f"--out {path}: give a file name ending in .jsonl "
                           f"(the selection format `train --examples FILE` reads)")
    parent = os.path.dirname(os.path.abspath(path))
    ancestor = nearest_existing(parent)
    if not os.path.isdir(ancestor):
        raise CommandError(f"--out {path}: {ancestor} is a file, not a folder; choose another path")
    if ancestor == parent:
        check_output_path(path)
    elif not os.access(ancestor, os.W_OK | os.X_OK):
        raise CommandError(f"--out {path}: cannot make folders in {ancestor} (permission denied); "
                           f"choose another path")


def run(args: argparse.Namespace) -> int:
    if args.out is None and args.list is None:
        raise CommandError("nothing to do: give --out FILE.jsonl (with --rank K) to write a selection, "
                           "or --list N to print the ranking")
    if args.out is None:  # --rank and --top choose what --out writes; alone they would be ignored
        for flag, value in (("--rank", args.rank), ("--top", args.top)):
            if value is not None:
                raise CommandError(f"{flag} chooses what --out writes; give --out FILE.jsonl too, or drop {flag} "
                                   f"(--list N prints the top N)")
    if args.seed is not None and args.method != "random":
        raise CommandError(f"--seed only applies to --method random, not {args.method}; drop --seed")
    seed, top = args.seed or 0, 1 if args.top is None else args.top
    if args.out is not None:
        if args.rank is None:
            raise CommandError("--out needs --rank K (1 = the best-scoring example)")
        _check_out(args.out)
    with library_errors(HistoryError, PoolError):
        history = load_history(args.history)
        pool = load_pool(args.pool)
        ranking = rank_examples(history, args.method, seed)
        by_id = _pool_by_id(history, pool)
        chosen = select(history, pool, args.method, args.rank, top, seed) if args.out else []
    if args.list is not None:
        print(markdown_table(ranking, history, by_id, args.list))
    if args.out is not None:
        try:
            write_pool_jsonl([example for _, example, _ in chosen], args.out)
        except OSError as error:
            raise CommandError(f"--out {args.out}: cannot write ({error.strerror or error}); choose another path",
                               status=EXIT_FAILURE) from None
        for number, example, score in chosen:
            sys.stdout.write(json_line({"rank": number, "id": example.id,
                                        "score": score if math.isfinite(score) else None,
                                        "answer": example.answer, "problem": example.problem}, sys.stdout))
    return 0
