"""Normalise an extracted answer (and the gold answer) to a canonical string.

The rules follow the Qwen2.5-Math evaluator's ``strip_string`` (``\\dfrac`` → ``\\frac``, units, ``$``, ``x=``
prefixes, thousands commas, percent, number words, shorthands, ...). Both sides go through the same function.

Departures, each because the Qwen rule produces wrong verdicts:
- only words after a number are units (Qwen deletes ~170 "unit" words anywhere, so ``(c)`` = ``(d)``);
- `` and `` / `` or `` between items becomes a list comma (Qwen deletes every ``and``);
- labels (``x =``, ``AB =``) and assignment lists (``a=3,b=1;a=6,b=2`` → ``(3,1),(6,2)``) are read; an equation
  stays in ``Normalized.equation``; a percent sign is recorded in ``Normalized.percent``, not just deleted;
- ``\\left`` is removed only as a command; a space after a control word before a letter stays (``\\cot x``).

The rules and departures in full: docs/grader.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Normalized:
    """A canonical answer string; ``percent`` is True when the answer carried a percent sign;
    ``equation`` is the canonical ``y=3x-2`` when ``text`` is its right side ``3x-2``, else ""."""

    text: str
    percent: bool = False
    equation: str = ""


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
_UNIT_COMMANDS = r"(?:text|textrm|textbf|textnormal|textsf|textup|mbox|mathrm|rm|textit|mathit)"
_TRAILING_UNIT = re.compile(r"\\" + _UNIT_COMMANDS + r"\s*\{[^{}]*\}(?:\s*\^\s*\{?\d\}?)?\s*$")
_LIST_END = re.compile(r"[,;]\s*$")
_UNWRAP = re.compile(
    r"\\(?:text|textrm|textbf|textnormal|textsf|textup|textit|mbox|mathrm|mathbf|mathit|boldsymbol|rm)\s*\{([^{}]*)\}"
)
_WORD_IN_TEXT = re.compile(r"\\(?:text|textrm|textnormal|mbox)\s*\{\s*(and|or)\s*\}")
_LIST_WORD = re.compile(r"(?: ?,)? (?:and|or) ")  # whitespace is one space by then: linear
_LABEL = re.compile(
    r"(?:\\(?:angle|measuredangle|triangle|overline|overarc|widehat|arc) ?)?\{?(?:[A-Za-z]{1,6}|\\[a-zA-Z]+)\}?'*"
    r"(?:_\{?[^{}=]{1,20}\}?)?(?:\([^()=]{1,20}\))?"
)
_ASSIGNMENT = re.compile(r" ?([a-zA-Z](?:_\{?\w{1,8}\}?)?) ?= ?([^=]+?) ?")
_COMMAND = re.compile(r"\\[a-zA-Z]+")
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
    # not after another text item or a list comma: `\text{A}, \text{B}` is a list of two answers
    if stripped and not _LIST_END.search(stripped) and not _TRAILING_UNIT.search(stripped):
        return stripped
    return text


def _remove_spaces(text: str) -> str:
    text = _SPACES_KEEP.sub(lambda m: m.group(1) + "\x01", text)  # keep `\cot x` parseable
    return _WHITESPACE.sub("", text).replace("\x01", " ")


def _lhs_is_simple(lhs: str) -> bool:
    return bool(_SIMPLE_LHS.match(lhs.strip()))


def _has_variable(text: str) -> bool:
    return bool(re.search(r"[a-zA-Z]", _COMMAND.sub("", text)))


def split_top_level(text: str, separator: str) -> list[str]:
    """Split at ``separator`` where no bracket is open."""
    parts, depth, start, index = [], 0, 0, 0
    size = len(separator)
    while index < len(text):
        char = text[index]
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0 and text.startswith(separator, index):
            parts.append(text[start:index])
            start = index + size
            index += size
            continue
        index += 1
    parts.append(text[start:])
    return parts


def _join_list_words(text: str) -> str:
    """``3,8 or 10`` → ``3,8,10``; each item's thousands commas are read first (``1,000 and 2,000``)."""
    parts = _LIST_WORD.split(text)
    if len(parts) == 1:
        return text
    return ",".join(part.replace(",", "") if _THOUSANDS.match(part.strip()) else part for part in parts)


def _assignment_groups(text: str) -> str | None:
    """``a=3,b=1;a=6,b=2`` → ``(3,1),(6,2)``; ``x=4,x=-6`` → ``4,-6``; None unless every item is
    ``name = value`` and there are several groups with the same names."""
    groups: list[dict[str, str]] = []
    for chunk in split_top_level(text, ";"):
        groups.append({})
        for item in split_top_level(chunk, ","):
            match = _ASSIGNMENT.fullmatch(item)
            if not match:
                return None
            name, value = match.group(1).replace(" ", ""), match.group(2)
            if name in groups[-1]:
                groups.append({})  # a repeated name starts the next solution
            groups[-1][name] = value
    names = list(groups[0])
    if len(groups) < 2 or any(set(group) != set(names) for group in groups):
        return None
    if len(names) == 1:
        return ",".join(group[names[0]] for group in groups)
    return ",".join("(" + ",".join(group[name] for name in names) + ")" for group in groups)


def _drop_label(text: str) -> tuple[str, str]:
    """(text without its ``x =`` / label, the whole equation when the right side has variables, else "")."""
    if text.count("=") != 1:
        return text, ""
    lhs, rhs = text.split("=")
    if not rhs.strip():
        return text, ""
    if _lhs_is_simple(lhs):
        return rhs, text if _has_variable(rhs) else ""
    if _LABEL.fullmatch(lhs.strip()) and not _has_variable(rhs):
        return rhs, ""
    return text, ""


@lru_cache(maxsize=65536)
def normalize_answer(answer: str) -> Normalized:
    """Canonical form of an answer string (every rule: docs/grader.md)."""
    text = str(answer).replace("\x00", "").strip()
    text = text.replace("\n", " ").strip().rstrip(".").strip()
    text = text.rstrip("\\ \t")  # a stray `42\` (or a trailing `\\` line break) is no part of the answer
    text = re.sub(r",\\!\s*", ",", text).replace("\\!", "")
    text = text.replace("{,}", ",")
    text = _WHITESPACE.sub(" ", _SPACING.sub(" ", text))
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
    text = _UNWRAP.sub(r"\1", _WORD_IN_TEXT.sub(r" \1 ", text)).strip()
    text = _WHITESPACE.sub(" ", text)
    number = words_to_number(text) if re.fullmatch(r"[a-zA-Z ,-]+", text) else None
    if number is not None:
        text = str(number)
    unit_match = _NUMBER_THEN_WORDS.match(text)
    if unit_match:
        text = unit_match.group(1)
    text = _join_list_words(text)
    text = _IN_PREFIX.sub("", text)
    if text.count("=") > 1:
        text = _assignment_groups(text) or text
    text, equation = _drop_label(text)
    return Normalized(text=_canonical(text), percent=percent, equation=_canonical(equation) if equation else "")


def _canonical(text: str) -> str:
    """The spelling rules after labels are gone: spaces, thousands, zeros, shorthand, choices."""
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
    return text
