"""Wrong training labels: the ``incorrect`` reward and label noise (after "Spurious Rewards", Shao et al. 2025).

``reward: incorrect`` trains every example against a wrong label; ``label_noise: p`` (with ``reward:
outcome``) replaces each example's gold by its wrong label with probability ``p``, drawn once per example
(keyed by the run's ``seed`` and the example id, so every copy and every rollout of an example shares the
draw, and the same seed flips the same examples). The train stage writes what it did to ``labels.json``
beside ``config.yaml``: ``{"rule", "reward", "rate", "seed", "examples", "flipped": {id: {"gold",
"label"}}}``.

The wrong label (rule ``perturb``) is the gold with a number shifted by a seeded nonzero offset in ±1..±5, kept
only when the grader proves it wrong both ways; when none is, ``LabelError`` (with ``examples: all``: the gold
stays, listed under ``unflippable``). Departure: Spurious Rewards' other rule (the base model's most frequent
wrong answer) is not done, as no record keeps the base model's answers per example. In full: docs/training.md.
"""

from __future__ import annotations

import random
import re
import sys
from dataclasses import replace

from .grading import DEFAULT_TIMEOUT_SECONDS, grade

__all__ = ["LabelError", "RULE", "noisy_labels", "recipe_labels", "wrong_label"]

RULE = "perturb"
OFFSETS = (1, 2, 3, 4, 5, -1, -2, -3, -4, -5)

_INTEGER = re.compile(r"-?\d{1,3}(?:,\d{3})+|-?\d+")
_FRACTION = re.compile(r"(-?)\\[dt]?frac\{(-?\d+)\}\{(\d+)\}|(-?\d+)/(\d+)")
_DECIMAL = re.compile(r"-?\d*\.\d+")
_DIGITS = re.compile(r"\d+")


class LabelError(ValueError):
    """No provably wrong label for an example (one line: which, why, how to go on)."""


def _candidate(gold: str, offset: int, run: int = -1) -> str:
    text = gold.strip().strip("$").strip()
    if _INTEGER.fullmatch(text):
        return str(int(text.replace(",", "")) + offset)
    fraction = _FRACTION.fullmatch(text)
    if fraction and fraction.group(2) is not None:
        sign, numerator, denominator = fraction.group(1, 2, 3)
        return f"{sign}\\frac{{{int(numerator) + offset}}}{{{denominator}}}"
    if fraction:
        return f"{int(fraction.group(4)) + offset}/{fraction.group(5)}"
    if _DECIMAL.fullmatch(text):
        whole, _, digits = text.partition(".")
        value = int((whole if whole not in ("", "-") else whole + "0") + digits) + offset * 10 ** len(digits)
        sign, value = ("-" if value < 0 else ""), abs(value)
        return f"{sign}{value // 10 ** len(digits)}.{value % 10 ** len(digits):0{len(digits)}d}"
    runs = list(_DIGITS.finditer(text))
    if runs:
        chosen = runs[run]
        return f"{text[: chosen.start()]}{int(chosen.group()) + abs(offset)}{text[chosen.end():]}"
    return f"{text} + 1"


def _provably_wrong(label: str, gold: str, timeout: float) -> bool:
    forward = grade(f"\\boxed{{{label}}}", gold, mode="strict", timeout=timeout)
    backward = grade(f"\\boxed{{{gold}}}", label, mode="strict", timeout=timeout)
    return forward.reason == "mismatch" and backward.reason == "mismatch"


def wrong_label(gold: str, key: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> str:
    """A label the grader proves wrong against ``gold``; the offsets' order is seeded by ``key``."""
    if not str(gold).strip():
        raise LabelError(f"example {key!r} has no gold answer to make a wrong label from; choose another example")
    offsets = list(OFFSETS)
    random.Random(f"wrong-label/{key}").shuffle(offsets)
    tried = []
    text = str(gold).strip().strip("$").strip()
    # the last digit run first; then the first (a unit's exponent, 3200 cm^3, is not the value); then gold + 1
    candidates = [*(_candidate(text, offset) for offset in offsets),
                  *(_candidate(text, offset, run=0) for offset in offsets), f"{text} + 1"]
    for label in candidates:
        if label not in tried:
            tried.append(label)
            if _provably_wrong(label, str(gold), timeout):
                return label
    raise LabelError(f"no provably wrong label for gold {str(gold)[:60]!r} ({key}; tried {', '.join(tried[:3])}, "
                     "...): the grader proves none of them wrong; choose other examples")


def noisy_labels(examples: list, rate: float, seed: int) -> tuple[list, dict, dict]:
    """``examples`` with each distinct id's gold replaced by its wrong label with probability ``rate``; the
    record ``{id: {"gold", "label"}}`` of the replaced ones (in first-occurrence order); and ``{id: why}`` for
    those drawn but kept, as no label could be proven wrong (a gold the grader cannot read, e.g. with
    unbalanced braces, so that no answer is ever rewarded against it anyway)."""
    flipped: dict[str, dict[str, str]] = {}
    unflippable: dict[str, str] = {}
    decided: set[str] = set()
    for example in examples:
        if example.id not in decided:
            decided.add(example.id)
            if random.Random(f"label-noise/{seed}/{example.id}").random() < rate:
                try:
                    label = wrong_label(example.answer, f"seed {seed}, example {example.id}")
                except LabelError as error:
                    unflippable[example.id] = str(error)
                    continue
                flipped[example.id] = {"gold": example.answer, "label": label}
    relabelled = [replace(e, answer=flipped[e.id]["label"]) if e.id in flipped else e for e in examples]
    return relabelled, flipped, unflippable


def recipe_labels(recipe, examples: list) -> tuple[list, dict | None]:
    """The training examples under the recipe's label rule and the ``labels.json`` record (None: golds kept)."""
    rate = 1.0 if recipe.reward == "incorrect" else recipe.label_noise
    if rate == 0:
        return examples, None
    relabelled, flipped, unflippable = noisy_labels(examples, rate, recipe.seed)
    if unflippable and recipe.examples != "all":  # a chosen example would silently train on its gold
        raise LabelError(next(iter(unflippable.values())))
    if unflippable:
        print(f"label noise: kept the gold of {len(unflippable)} example(s) with no provably wrong label: "
              f"{', '.join(list(unflippable)[:5])} (labels.json lists them)", file=sys.stderr)
    record = {"rule": RULE, "reward": recipe.reward, "rate": rate, "seed": recipe.seed,
              "examples": len({e.id for e in examples}), "flipped": flipped, "unflippable": unflippable}
    return relabelled, record
