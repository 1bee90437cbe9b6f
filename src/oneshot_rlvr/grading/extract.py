"""Find the final answer in a model response.

Two modes (``MODES``):
- ``strict``: the last *complete* ``\\boxed{...}`` or ``\\fbox{...}``, nothing else — what the paper's training
  reward reads (the final answer's boxes together only for a multi-answer gold: ``extract_for_gold``);
- ``lenient``: the final answer's boxes, else ``\\boxed 5``, else Minerva's "final answer is $...$", else the last
  answer cue ("the answer is", "Answer:"), else the last math span or number, whichever comes later.

Departures from the Qwen2.5-Math evaluator, each for correctness:
- a truncated last ``\\boxed{`` is skipped; the boxes of one final answer are read together;
- "the answer is X. More text" stops X at its span / sentence / line; a math span is read before the last number;
- the last number keeps thousands separators but does not glue lists together (Qwen deletes every comma).

A gold with boxes is all its outermost boxes (``gold_answer``). Linear time; a response longer than
``MAX_RESPONSE_CHARS`` keeps its last ``MAX_RESPONSE_CHARS`` characters. Rules in full: docs/grader.md.
"""

from __future__ import annotations

import re

from .normalize import split_top_level

MAX_RESPONSE_CHARS = 2_000_000
MODES = ("strict", "lenient")
MAX_BOXES_IN_ANSWER = 32
MAX_BOX_GAP_CHARS = 80  # longer text between two boxes is prose: the boxes are separate answers

_BOX_OPEN = re.compile(r"\\(?:boxed|fbox)\s*\{")
_BOX_BARE = re.compile(r"\\boxed[ \t]+([^\s$]+)")
# What may stand between two boxes of one answer: delimiters, connectors, then an optional `x =` label.
_BOX_GAP = re.compile(
    r"(?:\s|\$|\\[()\[\]]|\\,|,|;|&|\\\\|\\q?quad(?![a-zA-Z])|\b(?:and|or)\b|\\text\{\s*(?:and|or)\s*\})*"
    r"(?:[a-zA-Z](?:_\{?\w{1,8}\}?)?\s*=\s*)?"
)
_BOX_CONNECTOR = re.compile(r"(?<!\\),|;|&|\\\\|\\q?quad|\b(?:and|or)\b")
_NON_SPACE = re.compile(r"\S")
_MINERVA = "final answer is $"
_DOLLAR = re.compile(r"(?<!\\)\$")  # a math delimiter, not an escaped dollar sign
_ANSWER_CUE = re.compile(
    r"the (?:final )?answer is|\b(?:final )?answer(?:[ \t]*\*\*)?[ \t]*:", re.IGNORECASE
)
_MATH_DELIMITER = re.compile(r"(?<!\\)\$\$|(?<!\\)\$|(?<!\\)\\[()\[\]]")
_SPAN_CLOSER = {"$$": "$$", "$": "$", "\\(": "\\)", "\\[": "\\]"}
_NAME_ONLY = re.compile(r"\s*[A-Za-z]{1,3}'*(?:_\{?\w{1,3}\}?)?'*[\s.,;:]*")  # $n$, $x_1$, $ABC$: not answers
_COMMAND = re.compile(r"\\[a-zA-Z]+")
_TEXT = re.compile(r"\\(?:text\w*|mbox|mathrm)\s*\{[^{}]*\}")  # units and words are not variables
_VARIABLE = re.compile(r"[a-zA-Z]")  # once LaTeX commands are removed
_END_ENVIRONMENT = re.compile(r"\\end\{(\w+\*?)\}\s*$")
_LIST_SEPARATOR = re.compile(r"[,;](?!(?:\\!)?\d{3}(?!\d))")  # not a thousands comma (58,500 or 10,\!000)
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
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


def _complete_boxes(text: str) -> list[tuple[int, int, int]]:
    """(start of ``\\boxed``, its '{', its '}') of every complete box, in order (empty ones too)."""
    if "\\boxed" not in text and "\\fbox" not in text:
        return []
    openings = [(m.start(), m.end() - 1) for m in _BOX_OPEN.finditer(text)]
    if not openings:
        return []
    partner = _matching_braces(text)
    return [(start, brace, partner[brace]) for start, brace in openings if brace in partner]


def _filled(text: str, box: tuple[int, int, int]) -> bool:
    """True when the box holds more than spaces (searching only up to its first non-space: linear)."""
    return _NON_SPACE.search(text, box[1] + 1, box[2]) is not None


def last_boxed(text: str) -> str | None:
    """Content of the last complete, non-empty ``\\boxed{...}`` / ``\\fbox{...}``, or None."""
    boxes = final_boxes(text)
    return boxes[-1] if boxes else None


def final_boxes(text: str) -> list[str]:
    """Contents of the final answer's boxes: the last complete box and those joined to it by connectors."""
    text = text[-MAX_RESPONSE_CHARS:]
    boxes = _complete_boxes(text)
    while boxes and not _filled(text, boxes[-1]):
        boxes.pop()
    if not boxes:
        return []
    run = [boxes.pop()]
    while boxes and len(run) < MAX_BOXES_IN_ANSWER:
        box = boxes.pop()
        gap_start, gap_end = box[2] + 1, run[-1][0]
        if not 0 <= gap_end - gap_start <= MAX_BOX_GAP_CHARS or not _filled(text, box):
            break
        gap = text[gap_start:gap_end]
        if not (_BOX_GAP.fullmatch(gap) and _BOX_CONNECTOR.search(gap)):
            break
        run.append(box)
    return [text[brace + 1 : close] for _, brace, close in reversed(run)]


def gold_answer(gold: str) -> str:
    """The gold answer: a gold holding boxes is all its outermost boxes together, else the gold as given."""
    answers, end = [], -1
    for box in _complete_boxes(gold):
        if box[1] > end:  # not inside the previous box
            end = box[2]
            if _filled(gold, box):
                answers.append(gold[box[1] + 1 : box[2]])
    return ", ".join(answers) if answers else gold


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
    """The answer right after a cue: a $..$ / \\(..\\) span, else up to sentence end or line."""
    rest = rest.lstrip(" \t:*\n")  # "**Answer:**\n\n$5$"
    for opener, closer in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if rest.startswith(opener):
            end = rest.find(closer, len(opener)) if closer[0] == "\\" else _dollar_at(rest, closer, len(opener))
            if end >= 0:
                return _span_answer(rest[len(opener) : end])
    line = rest.split("\n", 1)[0]
    sentence_end = re.search(r"\.(?:\s|$)", line)  # a period followed by space ends the sentence
    if sentence_end:
        line = line[: sentence_end.start()]
    return line


def _answer_cue(text: str) -> str | None:
    matches = list(_ANSWER_CUE.finditer(text))
    if not matches:
        return None
    answer = _first_span(text[matches[-1].end() :]).strip().strip("*").strip()
    return answer or None


def _last_math_span(text: str) -> tuple[int, str] | None:
    """(end, content) of the last math span that is not just a name, in one pass over the delimiters."""
    opener, start, last = None, 0, None
    for match in _MATH_DELIMITER.finditer(text):
        token = match.group()
        if opener is None:
            if token in _SPAN_CLOSER:
                opener, start = token, match.end()
        elif token == _SPAN_CLOSER[opener]:
            content = text[start : match.start()]
            if opener == "$" and _BLANK_LINE.search(content):  # that $ was a currency sign; this one opens
                start = match.end()
                continue
            if content.strip() and not _NAME_ONLY.fullmatch(content):
                last = (match.end(), content)
            opener = None
    return last


def _span_answer(span: str) -> str:
    """The result a span states: the last value of a chain ``a = b = c`` (math-verify's rule; a trailing
    name as in ``= 17 = x`` is skipped), the right side of ``2\\cdot 5 = 10`` (no variables on either side),
    else the whole span (``5x - 7y = 0`` may be the answer, ``f(x)=x, g(x)=1`` is a list); without
    trailing punctuation, an unopened ``\\end{aligned}`` or one pair of enclosing grouping braces."""
    parts = split_top_level(span, "=")
    if len(parts) > 1 and not _LIST_SEPARATOR.search(span):
        if len(parts) > 2:
            values = [part for part in parts if part.strip() and not _NAME_ONLY.fullmatch(part)]
            span = values[-1] if values else parts[-1]
        elif parts[1].strip() and not _VARIABLE.search(_COMMAND.sub("", _TEXT.sub("", span))):
            span = parts[1]
    end = _END_ENVIRONMENT.search(span)
    if end and f"\\begin{{{end.group(1)}}}" not in span:
        span = span[: end.start()]
    span = span.strip().rstrip(".,;:").strip()
    if span.startswith("{") and span.endswith("}") and _matching_braces(span).get(0) == len(span) - 1:
        span = span[1:-1].strip()
    return span


def _last_span_or_number(text: str) -> str | None:
    span = _last_math_span(text)
    number = None
    for number in _NUMBER.finditer(text):
        pass
    if number is not None and (span is None or number.start() >= span[0]):
        return number.group()
    return (_span_answer(span[1]) or None) if span else None


def last_number(text: str) -> str | None:
    matches = _NUMBER.findall(text)
    return matches[-1] if matches else None


def extract_answer(response: str, mode: str = "lenient") -> str | None:
    """The final answer in ``response`` (unnormalised), or None when there is none.

    ``mode`` is ``"strict"`` (last complete boxed only) or ``"lenient"`` (see the module docstring).
    """
    return extract_for_gold(response, mode, gold_has_several_answers=False)


def extract_for_gold(response: str, mode: str, gold_has_several_answers: bool) -> str | None:
    """``extract_answer``, except that strict mode reads the final answer's boxes together when the gold
    has several answers (``4, -6``): the reward of ``\\boxed{4}, \\boxed{-6}`` must not be its last box."""
    if mode not in MODES:
        raise ValueError(f"extraction mode must be one of {MODES}, got {mode!r}")
    response = response[-MAX_RESPONSE_CHARS:].replace("\x00", "")
    boxes = final_boxes(response)
    if mode == "strict" and boxes and not gold_has_several_answers:
        return boxes[-1]
    if boxes:
        return ", ".join(boxes)
    if mode == "strict":
        return None
    for finder in (_last_bare_boxed, _minerva_answer, _answer_cue, _last_span_or_number):
        answer = finder(response)
        if answer is not None:
            return answer
    return None


def has_boxed(response: str) -> bool:
    """True when the response holds a complete boxed answer (the `format` reward)."""
    return last_boxed(response) is not None
