"""Find the final answer in a model response.

Two modes:

- ``strict``: the last *complete* ``\\boxed{...}`` or ``\\fbox{...}`` (balanced braces), nothing else.
  This is what the paper's training reward reads.
- ``lenient``: the order of the Qwen2.5-Math evaluator — boxed (also the brace-less ``\\boxed 5``
  form), then Minerva's "final answer is $...$", then "the answer is ...", then the last number.

Departures from the Qwen2.5-Math evaluator, each for correctness:
- a truncated last ``\\boxed{`` (no closing brace) is skipped in favour of the last complete one,
  instead of taking the rest of the response as the answer;
- "the answer is X. More text" takes X up to the end of its math span / sentence / line, not the whole
  remaining response;
- the last number keeps thousands separators (``1,234``) but does not glue lists together (Qwen
  deletes every comma first, turning ``1, 2`` into ``12``); simple fractions ``3/4`` count as a number.

Everything here is linear in the response length, so a 1 MB response costs milliseconds; responses
longer than ``MAX_RESPONSE_CHARS`` are cut to their last ``MAX_RESPONSE_CHARS`` characters.
"""

from __future__ import annotations

import re

MAX_RESPONSE_CHARS = 2_000_000
MODES = ("strict", "lenient")

_BOX_OPEN = re.compile(r"\\(?:boxed|fbox)\s*\{")
_BOX_BARE = re.compile(r"\\boxed[ \t]+([^\s$]+)")
_MINERVA = "final answer is $"
_DOLLAR = re.compile(r"(?<!\\)\$")  # a math delimiter, not an escaped dollar sign
_ANSWER_IS = re.compile(r"the (?:final )?answer is", re.IGNORECASE)
_NUMBER = re.compile(
    r"-?\d{1,3}(?:,\d{3})+(?!\d)(?:\.\d+)?"  # 1,234,567.5 (thousands groups only)
    r"|-?\d+(?:\.\d+)?/\d+(?:\.\d+)?"  # 3/4
    r"|-?\d+(?:\.\d+)?"  # 12 or 12.5
    r"|-?\.\d+"  # .5
)


def _matching_braces(text: str) -> dict[int, int]:
    """Map the index of every '{' that has a partner to the index of its '}' (one linear pass)."""
    partner: dict[int, int] = {}
    stack: list[int] = []
    for match in re.finditer(r"[{}]", text):
        position = match.start()
        if text[position] == "{":
            stack.append(position)
        elif stack:
            partner[stack.pop()] = position
    return partner


def last_boxed(text: str) -> str | None:
    """Content of the last complete, non-empty ``\\boxed{...}`` / ``\\fbox{...}``, or None."""
    text = text[-MAX_RESPONSE_CHARS:]
    if "\\boxed" not in text and "\\fbox" not in text:
        return None
    openings = [m.end() - 1 for m in _BOX_OPEN.finditer(text)]  # index of each box's '{'
    if not openings:
        return None
    partner = _matching_braces(text)
    for brace in reversed(openings):
        if brace in partner and text[brace + 1 : partner[brace]].strip():
            return text[brace + 1 : partner[brace]]
    return None


def _last_bare_boxed(text: str) -> str | None:
    """``\\boxed 5`` (no braces), the form the Qwen evaluator also accepts."""
    matches = list(_BOX_BARE.finditer(text[-MAX_RESPONSE_CHARS:]))
    return matches[-1].group(1) if matches else None


def _minerva_answer(text: str) -> str | None:
    start = text.rfind(_MINERVA)
    if start < 0:
        return None
    rest = text[start + len(_MINERVA) :]
    end = _DOLLAR.search(rest)
    return rest[: end.start()] if end else None


def _dollar_at(text: str, closer: str, start: int) -> int:
    """Index of the first unescaped ``closer`` ($ or $$) at or after ``start``, or -1."""
    match = re.compile(r"(?<!\\)" + re.escape(closer)).search(text, start)
    return match.start() if match else -1


def _first_span(rest: str) -> str:
    """The answer right after "the answer is": a $..$ / \\(..\\) span, else up to sentence end or line."""
    rest = rest.lstrip(" \t:")
    for opener, closer in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if rest.startswith(opener):
            end = rest.find(closer, len(opener)) if closer[0] == "\\" else _dollar_at(rest, closer, len(opener))
            if end >= 0:
                return rest[len(opener) : end]
    line = rest.split("\n", 1)[0]
    sentence_end = re.search(r"\.(?:\s|$)", line)  # a period followed by space ends the sentence
    if sentence_end:
        line = line[: sentence_end.start()]
    return line


def _answer_is(text: str) -> str | None:
    matches = list(_ANSWER_IS.finditer(text))
    if not matches:
        return None
    answer = _first_span(text[matches[-1].end() :]).strip()
    return answer or None


def last_number(text: str) -> str | None:
    matches = _NUMBER.findall(text)
    return matches[-1] if matches else None


def extract_answer(response: str, mode: str = "lenient") -> str | None:
    """The final answer in ``response`` (unnormalised), or None when there is none.

    ``mode`` is ``"strict"`` (last complete boxed only) or ``"lenient"`` (see the module docstring).
    """
    if mode not in MODES:
        raise ValueError(f"extraction mode must be one of {MODES}, got {mode!r}")
    response = response[-MAX_RESPONSE_CHARS:].replace("\x00", "")
    boxed = last_boxed(response)
    if boxed is not None or mode == "strict":
        return boxed
    for finder in (_last_bare_boxed, _minerva_answer, _answer_is, last_number):
        answer = finder(response)
        if answer is not None:
            return answer
    return None


def has_boxed(response: str) -> bool:
    """True when the response holds a complete boxed answer (the `format` reward)."""
    return last_boxed(response) is not None
