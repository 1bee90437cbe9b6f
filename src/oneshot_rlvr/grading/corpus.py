"""Self-consistency pairs for the grader: each gold answer in several surface forms, and perturbed.

Used by the acceptance test (every benchmark gold must be graded correct against ``\\boxed{gold}`` and
two other surface forms, and wrong against a perturbed value) and by ``benchmarks/grading.py``.
"""

from __future__ import annotations

import re
from fractions import Fraction

_DIGIT = re.compile(r"\d")


def _plain(gold: str) -> str:
    """The gold without its own math delimiters (OlympiadBench writes ``$69$,$84$``)."""
    return re.sub(r"(?<!\\)\$", "", gold).strip()


def restyled(gold: str) -> str:
    """The same answer in another LaTeX style: \\dfrac, \\left( \\right), other spacing, 27 → 27.0."""
    text = _plain(gold)
    if re.fullmatch(r"-?\d+", text):
        value = int(text)
        return f"{value:,}" if abs(value) >= 1000 else f"{value}.0"
    if re.fullmatch(r"-?\d*\.\d+", text):
        return text + "0"
    text = re.sub(r"\\frac(?![a-zA-Z])", r"\\dfrac", text)
    text = re.sub(r"(?<!\\left)(?<!\\right)\(", r"\\left(", text)
    text = re.sub(r"(?<!\\left)(?<!\\right)\)", r"\\right)", text)
    text = re.sub(r"\s*,\s*", ", ", text)
    text = re.sub(r"\s*=\s*", " = ", text)
    return text


def rewritten_value(gold: str) -> str | None:
    """A numeric gold written another way (27 → \\frac{54}{2}, 0.25 → \\frac{1}{4}, \\frac{a}{b} → a/b)."""
    text = _plain(gold)
    if re.fullmatch(r"-?\d+", text):
        return f"\\frac{{{2 * int(text)}}}{{2}}"
    if re.fullmatch(r"-?\d*\.\d+", text):
        value = Fraction(text)
        return f"{'-' if value < 0 else ''}\\frac{{{abs(value.numerator)}}}{{{value.denominator}}}"
    match = re.fullmatch(r"(-?)\\[dt]?frac\{(\d+)\}\{(\d+)\}", text)
    if match:
        return f"{match.group(1)}{match.group(2)}/{match.group(3)}"
    return None


def surface_forms(gold: str) -> list[str]:
    """Responses whose final answer is ``gold``: boxed as given, Minerva style (lenient), a restyled box,
    "the answer is" in plain text (lenient), and for numeric golds the value written another way."""
    forms = [
        f"Let me work it out.\n\nSo the result is \\boxed{{{gold}}}",
        f"Reasoning ...\nThe final answer is ${_plain(gold)}$. I hope it is correct.",
        f"We find $\\boxed{{{restyled(gold)}}}$.",
        f"Adding these up, the answer is ${_plain(gold)}$.\nDone.",
    ]
    value = rewritten_value(gold)
    if value is not None:
        forms.append(f"Hence $x = \\boxed{{{value}}}$")
    return forms


_UNIT = re.compile(r"\\(?:text|mbox|mathrm)\s*\{")


def perturbed(gold: str) -> str:
    """A different value: its last digit bumped by one, or "+1" appended when it has no digit.

    Digits in a trailing unit (``864 \\mbox{ inches}^2``) are not the value and are left alone.
    """
    units = list(_UNIT.finditer(gold))
    value_end = units[-1].start() if units and _DIGIT.search(gold[: units[-1].start()]) else len(gold)
    digits = list(_DIGIT.finditer(gold, 0, value_end))
    if not digits:
        return f"{_plain(gold)}+1"
    last = digits[-1]
    bumped = str((int(last.group()) + 1) % 10)
    return gold[: last.start()] + bumped + gold[last.end() :]
