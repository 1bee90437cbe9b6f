"""Decide whether two normalised answers are equal: string → numeric → structure → symbolic.

``compare(pred, gold, symbolic)`` returns ``(equal, reason)`` with ``equal`` True / False, or None when
only the symbolic stage could decide and ``symbolic`` is None. The parent process calls it with
``symbolic=None`` (every stage here is linear-time and safe to run in-process); undecided pairs go to a
worker process that calls it again with the math-verify check (``grading.worker``).

Departures from the Qwen2.5-Math evaluator (more exact, on purpose):
- values are parsed exactly (``fractions.Fraction``); a tolerance (Qwen's relative 1e-4 *and* rounding to the
  gold's precision) applies only to a non-integer decimal gold; a percent sign means /100 on its side only;
- intervals and tuples keep their brackets; bare lists compare as multisets, sets as sets;
- word answers compare as case-insensitive strings only; equations are equal up to a nonzero factor.

Rules in full: docs/grader.md.
"""

from __future__ import annotations

import re
from collections import Counter
from fractions import Fraction
from typing import Callable, Optional

from .normalize import Normalized, split_top_level

SymbolicCheck = Callable[[str, str], bool]
Result = tuple[Optional[bool], str]

MAX_NUMBER_CHARS = 400  # longer digit strings are not parsed as numbers (bounded time)
MAX_EXPONENT = 400
RELATIVE_TOLERANCE = Fraction(1, 10_000)
MAX_PAIRED_ITEMS = 64  # unordered lists with more unequal items than this go to the time-boxed stage

_PLAIN = r"[-+]?(?:\d+\.?\d*|\.\d+)"
_NUMBER = re.compile(rf"^(?P<mantissa>{_PLAIN})(?:(?:e|E|\\times10\^|\\cdot10\^|\*10\^)(?P<exp>\{{?[-+]?\d+\}}?))?$")
_FRACTION = re.compile(rf"^(?P<sign>-?)(?P<whole>\d+)?\\frac\{{(?P<num>{_PLAIN})\}}\{{(?P<den>{_PLAIN})\}}$")
_SLASH = re.compile(rf"^(?P<num>{_PLAIN})/(?P<den>{_PLAIN})$")
_POWER_OF_TEN = re.compile(r"^10\^\{?(?P<exp>[-+]?\d+)\}?$")
_FUNCTION_WORDS = re.compile(
    r"\\(?:begin|end|operatorname)\{\w+\*?\}|\\[a-zA-Z]+|arcsin|arccos|arctan|sinh|cosh|tanh|sin|cos|tan|cot|sec|csc|log|ln|exp|lim|max|min|"
    r"gcd|lcm|det|mod|sqrt|frac|infty|pi"
)
_WORD = re.compile(r"[a-zA-Z]{3,}")
_BASE_NUMBER = re.compile(r"^([0-9A-Za-z]+)_\{?(\d+)\}?$")


def parse_number(text: str) -> tuple[Fraction, Fraction | None] | None:
    """(exact value, unit of the last written digit when it is a non-integer decimal, else None).

    None when ``text`` is not a numeric literal.
    """
    if len(text) > MAX_NUMBER_CHARS:
        return None
    match = _NUMBER.match(text)
    if match:
        mantissa = match.group("mantissa")
        value = Fraction(mantissa)
        exponent = 0
        if match.group("exp"):
            exponent = int(match.group("exp").strip("{}"))
            if abs(exponent) > MAX_EXPONENT:
                return None
            value *= Fraction(10) ** exponent
        decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
        is_decimal = decimals > 0 and Fraction(mantissa).denominator != 1
        return value, (Fraction(10) ** (exponent - decimals) if is_decimal else None)
    match = _POWER_OF_TEN.match(text)
    if match and abs(int(match.group("exp"))) <= MAX_EXPONENT:
        return Fraction(10) ** int(match.group("exp")), None
    match = _FRACTION.match(text) or _SLASH.match(text)
    if match:
        denominator = Fraction(match.group("den"))
        if denominator == 0:
            return None
        value = Fraction(match.group("num")) / denominator
        groups = match.groupdict()
        if groups.get("whole"):
            value += int(groups["whole"])  # mixed number: 1\frac{4}{5} = 9/5
        if groups.get("sign") == "-":
            value = -value
        return value, None
    return None


def numbers_equal(pred: tuple[Fraction, Fraction | None], gold: tuple[Fraction, Fraction | None],
                  pred_percent: bool, gold_percent: bool) -> bool:
    """Exact equality, or the decimal-gold tolerance; a percent sign on a side also allows value/100."""
    gold_unit = gold[1]
    for p in [pred[0], pred[0] / 100] if pred_percent else [pred[0]]:
        for g, scale in ([(gold[0], 1), (gold[0] / 100, Fraction(1, 100))] if gold_percent else [(gold[0], 1)]):
            if p == g:
                return True
            if gold_unit is not None:
                difference = abs(p - g)
                if difference <= RELATIVE_TOLERANCE * max(abs(p), abs(g)) and difference <= gold_unit * scale / 2:
                    return True
    return False


def is_word_answer(text: str) -> bool:
    """A word answer: letters that are not LaTeX commands or function names (``Evelyn``, ``east``)."""
    return bool(_WORD.search(_FUNCTION_WORDS.sub(" ", text)))


# --- structures -------------------------------------------------------------------------------------

_OPEN = "([{"
_CLOSE = ")]}"


def _outer_brackets_enclose(text: str) -> bool:
    """True when the first character's bracket closes at the last character."""
    depth = 0
    for index, char in enumerate(text):
        if char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth -= 1
            if depth == 0 and index != len(text) - 1:
                return False
    return depth == 0


def parse_structure(text: str) -> tuple | None:
    """("union", parts) | ("matrix", rows) | ("ordered", open, close, items) | ("set", items) for ``{..}`` |
    ("bag", items) for a bare list or ``a \\pm b`` | None."""
    if "\\cup" in text:
        parts = split_top_level(text, "\\cup")
        if len(parts) > 1:
            return ("union", parts)
    if text.startswith("\\begin{pmatrix}") and text.endswith("\\end{pmatrix}"):
        body = text[len("\\begin{pmatrix}") : -len("\\end{pmatrix}")]
        rows = [row for row in body.split("\\\\") if row]
        return ("matrix", [row.split("&") for row in rows])
    if len(text) >= 2 and text[0] in _OPEN and text[-1] in _CLOSE and _outer_brackets_enclose(text):
        items = split_top_level(text[1:-1], ",")
        if len(items) > 1 or text[0] == "{":
            if text[0] == "{" and text[-1] == "}":
                return ("set", [item for item in items if item])
            return ("ordered", text[0], text[-1], items)
    items = split_top_level(text, ",")
    if len(items) > 1:
        return ("bag", items)
    plus_minus = split_top_level(text, "\\pm")
    if len(plus_minus) == 2:
        left, right = plus_minus
        return ("bag", [f"{left}+{right}", f"{left}-{right}"])
    return None


def _all_equal(pairs: list[tuple[str, str]], symbolic: SymbolicCheck | None) -> Optional[bool]:
    undecided = False
    for pred, gold in pairs:
        equal, _ = compare(Normalized(pred), Normalized(gold), symbolic)
        if equal is False:
            return False
        undecided |= equal is None
    return None if undecided else True


def _bags_equal(pred: list[str], gold: list[str], symbolic: SymbolicCheck | None) -> Optional[bool]:
    """Multiset equality: every gold item matched by a distinct predicted item.

    Identical strings pair off first (linear); the rest pair by ``compare``, which is quadratic, so
    beyond ``MAX_PAIRED_ITEMS`` leftovers the in-process stage leaves the decision to the time-boxed one.
    """
    if len(pred) != len(gold):
        return False
    leftover_pred = Counter(pred)
    leftover_pred.subtract(Counter(gold))
    leftover_gold = [item for item, count in (-leftover_pred).items() for _ in range(count)]
    unmatched = [item for item, count in (+leftover_pred).items() for _ in range(count)]
    if len(unmatched) > MAX_PAIRED_ITEMS and symbolic is None:
        return None
    undecided = False
    for gold_item in leftover_gold:
        maybe = False
        for index, pred_item in enumerate(unmatched):
            equal, _ = compare(Normalized(pred_item), Normalized(gold_item), symbolic)
            if equal:
                del unmatched[index]
                break
            maybe |= equal is None
        else:
            if not maybe:
                return False
            undecided = True
    return None if undecided else True


def has_several_answers(text: str) -> bool:
    """True for a normalised list of answers (``4,-6``, ``1\\pm\\sqrt{2}``, ``{1,2}``); a tuple,
    an interval or a one-element set is one answer."""
    structure = parse_structure(text)
    return structure is not None and (structure[0] == "bag" or structure[0] == "set" and len(structure[1]) > 1)


def _distinct(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def structures_equal(pred: tuple, gold: tuple, symbolic: SymbolicCheck | None) -> Optional[bool]:
    kinds = {pred[0], gold[0]}
    if kinds == {"set"} or kinds == {"set", "bag"}:  # written as a set on either side: duplicates are one
        return _bags_equal(_distinct(pred[-1]), _distinct(gold[-1]), symbolic)
    if pred[0] != gold[0]:
        return None  # different shapes: let the symbolic stage read both
    kind = pred[0]
    if kind == "union":
        if len(pred[1]) != len(gold[1]):
            return False
        return _all_equal(list(zip(pred[1], gold[1])), symbolic)
    if kind == "matrix":
        if [len(row) for row in pred[1]] != [len(row) for row in gold[1]]:
            return False
        cells = [(p, g) for prow, grow in zip(pred[1], gold[1]) for p, g in zip(prow, grow)]
        return _all_equal(cells, symbolic)
    if kind == "ordered":
        if pred[1:3] != gold[1:3] or len(pred[3]) != len(gold[3]):
            return False
        return _all_equal(list(zip(pred[3], gold[3])), symbolic)
    return _bags_equal(pred[1], gold[1], symbolic)


# --- the chain --------------------------------------------------------------------------------------

def compare(pred: Normalized, gold: Normalized, symbolic: SymbolicCheck | None = None) -> Result:
    """(True/False/None, reason); reason is the stage that decided: match/numeric/structure/symbolic."""
    if pred.text == gold.text:
        return True, "match"
    if not pred.text or not gold.text:
        return False, "match"
    if is_word_answer(gold.text) or is_word_answer(pred.text):
        return pred.text.lower() == gold.text.lower(), "match"
    pred_base, gold_base = _BASE_NUMBER.match(pred.text), _BASE_NUMBER.match(gold.text)
    if pred_base or gold_base:  # 52_8: digits in a base; math-verify drops the subscript
        same = bool(pred_base and gold_base) and (
            pred_base.group(1).lower(), int(pred_base.group(2))) == (gold_base.group(1).lower(), int(gold_base.group(2)))
        return same, "match"
    pred_number, gold_number = parse_number(pred.text), parse_number(gold.text)
    if pred_number is not None and gold_number is not None:
        return numbers_equal(pred_number, gold_number, pred.percent, gold.percent), "numeric"
    pred_structure, gold_structure = parse_structure(pred.text), parse_structure(gold.text)
    if pred_structure is not None and gold_structure is not None:
        equal = structures_equal(pred_structure, gold_structure, symbolic)
        if equal is not None:
            return equal, "structure"
    if _list_against_number(pred_structure, gold_number) or _list_against_number(gold_structure, pred_number):
        return False, "structure"  # math-verify reads "2, 2" as the set {2}; a list of two is not one number
    if symbolic is None:
        return None, "symbolic"
    if symbolic(pred.text, gold.text):
        return True, "symbolic"
    pred_equation, gold_equation = equation_form(pred), equation_form(gold)
    if pred_equation and gold_equation and (pred_equation, gold_equation) != (pred.text, gold.text):
        return symbolic(pred_equation, gold_equation), "symbolic"
    return False, "symbolic"


def _list_against_number(structure: tuple | None, number: tuple | None) -> bool:
    return structure is not None and structure[0] == "bag" and number is not None


def equation_form(answer: Normalized) -> str | None:
    """The answer as one equation (``3x-y-2=0``; ``y=3x-2`` for a text ``3x-2``), else None."""
    if answer.equation:
        return answer.equation
    return answer.text if answer.text.count("=") == 1 and "," not in answer.text else None
