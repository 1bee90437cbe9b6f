"""Normalise an extracted answer (and the gold answer) to a canonical string.

The rules follow the Qwen2.5-Math evaluator's ``strip_string``: ``\\dfrac``/``\\tfrac`` → ``\\frac``;
``\\left``/``\\right`` dropped; a trailing ``\\text{units}`` dropped; degrees; ``$``; ``x=`` prefixes;
thousands commas; trailing ``.0``; percent; ``a/b`` → ``\\frac{a}{b}``; ``array``/``bmatrix`` →
``pmatrix``; number words; ``\\frac12`` / ``\\sqrt2`` shorthand. Both sides go through the same function.

Departures, each because the Qwen rule produces wrong verdicts:
- Qwen deletes a list of ~170 "unit" words anywhere (``a``, ``c``, ``m``, ``t``, ``s``, ...), which turns
  ``(c)`` and ``(d)`` into the same string; here only words after a number (``5 apples``) are units.
- Qwen deletes every ``and``; here `` and `` between items becomes a list comma.
- ``\\left`` is removed only as a command, so ``\\rightarrow`` survives.
- A percent sign is not just deleted: it is recorded (``Normalized.percent``) so that ``50\\%`` equals
  ``0.5`` but a bare ``50`` does not (the numeric stage decides).
- Spaces are removed except one after a control word followed by a letter (``\\cot x`` stays
  parseable instead of becoming ``\\cotx``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Normalized:
    """A canonical answer string; ``percent`` is True when the answer carried a percent sign."""

    text: str
    percent: bool = False


_SPACING = re.compile(r"(?<!\\)\\[,;:> ]|\\q?quad(?![a-zA-Z])|~")
_SIZING = re.compile(r"\\(?:left|right|[bB]ig{1,2}[lr]?)(?![a-zA-Z])")
_RELATIONS = [
    (re.compile(r"\\[dt]frac(?![a-zA-Z])"), r"\\frac"),
    (re.compile(r"\\(?:leqslant|leq)(?![a-zA-Z])"), r"\\le"),
    (re.compile(r"\\(?:geqslant|geq)(?![a-zA-Z])"), r"\\ge"),
    (re.compile(r"\\neq(?![a-zA-Z])"), r"\\ne"),
    (re.compile(r"\\varnothing(?![a-zA-Z])"), r"\\emptyset"),
]
_ARRAY_BEGIN = re.compile(r"\\begin\{array\}\{[^{}]*\}")
_UNIT_COMMANDS = r"(?:text|textrm|mbox|mathrm|rm|textit|mathit)"
_TRAILING_UNIT = re.compile(r"\\" + _UNIT_COMMANDS + r"\s*\{[^{}]*\}(?:\s*\^\s*\{?\d\}?)?\s*$")
_UNWRAP = re.compile(r"\\(?:text|textrm|textbf|textit|mbox|mathrm|mathbf|mathit|boldsymbol|rm)\s*\{([^{}]*)\}")
_DEGREES = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree|°")
_PERCENT = re.compile(r"\\%|%|\\text\{\s*percent\s*\}|\s+percent$")
_NUMBER_THEN_WORDS = re.compile(r"^([-+]?\d[\d,]*(?:\.\d+)?(?:/\d+)?|[-+]?\.\d+)\s+[a-zA-Z]{2,}[a-zA-Z .]*$")
_THOUSANDS = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_TRAILING_ZEROS = re.compile(r"(\d)\.0+(?![\d])")
_LEADING_DOT = re.compile(r"(^|[^\d])\.(\d)")
_SIMPLE_LHS = re.compile(r"^[a-zA-Z](?:_\{?\w\}?)?$|^[a-zA-Z]\([a-zA-Z]\)$")
_IN_PREFIX = re.compile(r"^[a-zA-Z]\s*\\in\s*")
_SPACES_KEEP = re.compile(r"(\\[a-zA-Z]+)\s+(?=[a-zA-Z])")
_WHITESPACE = re.compile(r"\s+")
_SHORT_SQRT = re.compile(r"\\sqrt([0-9a-zA-Z])")
_SHORT_FRAC_BOTH = re.compile(r"\\frac([0-9a-zA-Z])([0-9a-zA-Z])")
_SHORT_FRAC_NUM = re.compile(r"\\frac([0-9a-zA-Z])\{")
_SHORT_FRAC_DEN = re.compile(r"\\frac\{([^{}]*)\}([0-9a-zA-Z])")
_A_SLASH_B = re.compile(r"^(-?)(\d+)/(\d+)$")
_CHOICE = re.compile(r"^\(([A-Ea-e])\)$")
_SINGLE_CHAR_GROUP = re.compile(r"([_^])\{(\w)\}")

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
         "ninety": 90}
_SCALES = {"thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}


def words_to_number(text: str) -> int | None:
    """'twenty-one' → 21, 'three hundred and five' → 305; None unless the whole text is a number."""
    words = text.lower().replace("-", " ").replace(",", " ").split()
    words = [w for w in words if w != "and"]
    if not words or len(words) > 12:
        return None
    total = current = 0
    for word in words:
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in _SCALES:
            total += max(current, 1) * _SCALES[word]
            current = 0
        else:
            return None
    return total + current


def _drop_trailing_unit(text: str) -> str:
    stripped = _TRAILING_UNIT.sub("", text).strip()
    return stripped if stripped else text


def _remove_spaces(text: str) -> str:
    text = _SPACES_KEEP.sub(lambda m: m.group(1) + "\x01", text)  # keep `\cot x` parseable
    return _WHITESPACE.sub("", text).replace("\x01", " ")


def _lhs_is_simple(lhs: str) -> bool:
    return bool(_SIMPLE_LHS.match(lhs.strip()))


@lru_cache(maxsize=65536)
def normalize_answer(answer: str) -> Normalized:
    """Canonical form of an answer string (see the module docstring for every rule)."""
    text = str(answer).replace("\x00", "").strip()
    text = text.replace("\n", " ").strip().rstrip(".").strip()
    text = re.sub(r",\\!\s*", ",", text).replace("\\!", "")
    text = text.replace("{,}", ",")
    text = _SPACING.sub(" ", text)
    text = _ARRAY_BEGIN.sub(r"\\begin{pmatrix}", text).replace("\\end{array}", "\\end{pmatrix}")
    text = text.replace("bmatrix", "pmatrix")
    for pattern, replacement in _RELATIONS:
        text = pattern.sub(replacement, text)
    text = _SIZING.sub("", text)
    text = text.replace("\\{", "{").replace("\\}", "}")
    text = _drop_trailing_unit(text)
    text = _DEGREES.sub("", text)
    text = text.replace("\\$", "").replace("$", "").replace("\\(", "").replace("\\)", "")
    percent = bool(_PERCENT.search(text))
    if percent:
        text = _PERCENT.sub("", text)
    text = _UNWRAP.sub(r"\1", text).strip()
    number = words_to_number(text) if re.fullmatch(r"[a-zA-Z ,-]+", text) else None
    if number is not None:
        text = str(number)
    unit_match = _NUMBER_THEN_WORDS.match(text)
    if unit_match:
        text = unit_match.group(1)
    text = re.sub(r"\s+and\s+", ",", text)
    text = _IN_PREFIX.sub("", text)
    if text.count("=") == 1:
        lhs, rhs = text.split("=")
        if _lhs_is_simple(lhs) and rhs.strip():
            text = rhs
    text = re.sub(r"\binfinity\b|\binf\b", r"\\infty", text)
    text = text.replace("\\emptyset", "{}")
    text = _remove_spaces(text.strip())
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    text = _TRAILING_ZEROS.sub(r"\1", text)
    text = _LEADING_DOT.sub(r"\g<1>0.\2", text)
    text = re.sub(r"^\+(?=[\d.])", "", text)
    text = _SHORT_SQRT.sub(r"\\sqrt{\1}", text)
    text = _SHORT_FRAC_BOTH.sub(r"\\frac{\1}{\2}", text)
    text = _SHORT_FRAC_NUM.sub(r"\\frac{\1}{", text)
    text = _SHORT_FRAC_DEN.sub(r"\\frac{\1}{\2}", text)
    text = _SINGLE_CHAR_GROUP.sub(r"\1\2", text)
    slash = _A_SLASH_B.match(text)
    if slash:
        text = f"{slash.group(1)}\\frac{{{slash.group(2)}}}{{{slash.group(3)}}}"
    choice = _CHOICE.match(text)
    if choice:
        text = choice.group(1).upper()
    return Normalized(text=text, percent=percent)
