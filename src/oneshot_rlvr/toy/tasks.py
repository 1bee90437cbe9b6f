"""Toy task families with exact answers, and their worked solutions (the toy world's "math").

Every problem is a short chain of integer operations — ``a + b``, ``a - b`` (never below 0) and
``a * d`` with a one-digit ``d`` — wrapped in one of five families (``FAMILIES``), each with three
difficulty levels (``LEVELS``). A worked solution (``solution``) has a first pass (``SolutionStyle.route``:
``direct``, whose lines may slip, or ``estimate``, on rounded numbers), an optional recheck after " Recheck:"
(``recheck_style``: ``columns``, exact, or ``repeat``, the direct pass again) and "The answer is N." (boxed or
not). A column recheck after an estimate is the latent-skill world's skill (``toy.worlds``).

Answers are non-negative integers written in decimal. Everything is seeded: ``make_problems(family,
level, count, seed)`` returns the same problems for the same arguments.

The families and levels, and the solution formats: docs/toy-world.md.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

FAMILIES = ("addsub", "mul", "chain", "compare", "word")
LEVELS = (1, 2, 3)
SLIP_DELTAS = (-10, -2, -1, 1, 2, 10)


@dataclass(frozen=True)
class Op:
    """One operation ``left symbol right``; ``left`` is None when it takes the previous result."""

    symbol: str  # "+", "-" or "*"
    right: int
    left: int | None = None


@dataclass(frozen=True)
class ToyProblem:
    """A problem: ``question`` text, exact ``answer``, the ``chains`` of operations that solve it (one chain,
    or two for compare), and its ``family`` / ``level``; ``id`` is unique within a generated set."""

    id: str
    family: str
    level: int
    question: str
    answer: int
    chains: tuple[tuple[Op, ...], ...]


def apply(symbol: str, left: int, right: int) -> int:
    return left + right if symbol == "+" else left - right if symbol == "-" else left * right


def evaluate_chain(chain: tuple[Op, ...]) -> int:
    value = None
    for op in chain:
        value = apply(op.symbol, op.left if op.left is not None else value, op.right)
    return value


def _digits(rng: random.Random, count: int) -> int:
    return rng.randint(10 ** (count - 1) if count > 1 else 1, 10 ** count - 1)


def _add_or_sub(rng: random.Random, value: int, right_digits: int) -> Op:
    right = _digits(rng, right_digits)
    if rng.random() < 0.5 and right <= value:
        return Op("-", right)
    return Op("+", right)


def _binary(rng: random.Random, left_digits: int, right_digits: int) -> Op:
    left = _digits(rng, left_digits)
    op = _add_or_sub(rng, left, right_digits)
    return Op(op.symbol, op.right, left)


def _chain(rng: random.Random, length: int, digits: int = 2) -> tuple[Op, ...]:
    ops = [_binary(rng, digits, digits)]
    value = evaluate_chain(tuple(ops))
    for _ in range(length - 1):
        ops.append(_add_or_sub(rng, value, digits))
        value = evaluate_chain(tuple(ops))
    return tuple(ops)


def _expression(chain: tuple[Op, ...]) -> str:
    text = str(chain[0].left)
    return text + "".join(f" {op.symbol} {op.right}" for op in chain)


_NAMES = ("Tom", "Ana", "Sam", "Lea", "Max", "Ivy", "Ben", "Mia")
_ITEMS = ("apples", "coins", "books", "stamps", "shells", "cards")
_MORE = ("buys {n} more", "finds {n} more", "gets {n} more")
_LESS = ("gives away {n}", "loses {n}", "sells {n}")


def _word(rng: random.Random, level: int) -> tuple[str, tuple[Op, ...]]:
    name, item = rng.choice(_NAMES), rng.choice(_ITEMS)
    start = _digits(rng, 2)
    ops: list[Op] = []
    clauses = []
    value = start
    for index in range(level):
        if level == 3 and index == 1:  # one multiplication at the hardest level
            op = Op("*", rng.randint(2, 9))
            clauses.append(f"then the number of {item} grows {op.right} times")
        else:
            op = _add_or_sub(rng, value, rng.choice((1, 2)))
            clauses.append(rng.choice(_MORE if op.symbol == "+" else _LESS).format(n=op.right))
        ops.append(op)
        value = apply(op.symbol, value, op.right)
    first = Op(ops[0].symbol, ops[0].right, start)
    story = f"{name} has {start} {item}. {name[0].upper() + name[1:]} " + ", ".join(clauses) + "."
    return f"{story} How many {item} does {name} have now?", (first, *ops[1:])


def _make_one(family: str, level: int, rng: random.Random) -> tuple[str, int, tuple[tuple[Op, ...], ...]]:
    if family == "addsub":
        left, right = {1: (2, 1), 2: (2, 2), 3: (3, 2)}[level]
        chain = (_binary(rng, left, right),)
        return f"What is {_expression(chain)}?", evaluate_chain(chain), (chain,)
    if family == "mul":
        op = Op("*", rng.randint(2, 9), _digits(rng, level))
        return f"What is {op.left} * {op.right}?", op.left * op.right, ((op,),)
    if family == "chain":
        chain = _chain(rng, level + 1)
        return f"What is {_expression(chain)}?", evaluate_chain(chain), (chain,)
    if family == "compare":
        left, right = {1: (1, 1), 2: (2, 1), 3: (2, 2)}[level]
        while True:
            first, second = (_binary(rng, left, right),), (_binary(rng, left, right),)
            if evaluate_chain(first) != evaluate_chain(second):
                break
        question = f"Which is larger: {_expression(first)} or {_expression(second)}?"
        return question, max(evaluate_chain(first), evaluate_chain(second)), (first, second)
    if family == "word":
        question, chain = _word(rng, level)
        return question, evaluate_chain(chain), (chain,)
    raise ValueError(f"unknown task family {family!r}; choose one of {', '.join(FAMILIES)}")


def make_problems(family: str, level: int, count: int, seed: int, *, prefix: str | None = None) -> list[ToyProblem]:
    """``count`` distinct problems of ``family`` at ``level``, the same for the same seed — or all there are
    when the cell is smaller (mul level 1 has 72 distinct questions); the first ``k`` of a larger ``count``
    are the problems of ``count=k``."""
    if family not in FAMILIES:
        raise ValueError(f"unknown task family {family!r}; choose one of {', '.join(FAMILIES)}")
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; choose one of {LEVELS}")
    rng = random.Random(f"{family}/{level}/{seed}")
    problems, seen = [], set()
    for _ in range(count * 50):
        if len(problems) == count:
            break
        question, answer, chains = _make_one(family, level, rng)
        if question in seen:
            continue
        seen.add(question)
        problems.append(ToyProblem(f"{prefix or family}-{level}-{len(problems)}", family, level, question, answer, chains))
    return problems


# --- worked solutions ---------------------------------------------------------------------------------

def _columns(number: int, width: int) -> list[int]:
    """347, 4 → [7, 4, 3, 0] (digits from the units up, padded with zeros)."""
    return [int(d) for d in reversed(str(number).rjust(width, "0"))]


def recheck_steps(symbol: str, left: int, right: int) -> list[str]:
    """Column arithmetic for one operation, from the units up, then ``"so a + b = c"`` (always correct):
    ``47 + 38`` → ``["7 + 8 = 15", "4 + 3 + 1 = 8", "so 47 + 38 = 85"]``; ``85 - 38`` → ``["15 - 8 = 7",
    "7 - 3 = 4", "so 85 - 38 = 47"]`` (the top digit shown after borrowing); ``47 * 8`` → ``["7 * 8 = 56",
    "4 * 8 + 5 = 37", "so 47 * 8 = 376"]``. Each line is a one-digit fact (plus a carry): easier than the
    first pass's whole result at once."""
    lines, digits, carry = [], [], 0
    if symbol == "*":
        tops, bottoms = _columns(left, 1), None
    else:
        width = max(len(str(left)), len(str(right)))
        tops, bottoms = _columns(left, width), _columns(right, width)
    for index, top in enumerate(tops):
        last = index == len(tops) - 1
        if symbol == "+":
            value = top + bottoms[index] + carry
            lines.append(f"{top} + {bottoms[index]}" + (f" + {carry}" if carry else "") + f" = {value}")
        elif symbol == "-":
            top -= carry
            carry = 1 if top < bottoms[index] else 0
            top += 10 * carry
            value = top - bottoms[index]
            lines.append(f"{top} - {bottoms[index]} = {value}")
        else:
            value = top * right + carry
            lines.append(f"{top} * {right}" + (f" + {carry}" if carry else "") + f" = {value}")
        if symbol != "-":
            carry = value // 10
        digits.append(str(value) if last and symbol != "-" else str(value % 10))
    result = int("".join(reversed(digits)))
    assert result == apply(symbol, left, right)  # the column algorithm is exact by construction
    return lines + [f"so {left} {symbol} {right} = {result}"]


def round_estimate(number: int) -> int:
    """A number rounded to one significant digit, half up: 47 → 50, 347 → 300, 95 → 100; one digit stays."""
    if number < 10:
        return number
    unit = 10 ** (len(str(number)) - 1)
    return (number + unit // 2) // unit * unit


ROUTES = ("direct", "estimate")
RECHECKS = ("columns", "repeat")


@dataclass(frozen=True)
class SolutionStyle:
    """How one worked solution is written: its first pass (``route``), slipped lines (direct route only), a
    recheck pass, a boxed final answer.

    - ``direct``: every operation computed at once, ``47 + 38 = 85.``, a share of lines slipped;
    - ``estimate``: the question's numbers rounded to one significant digit first, ``Estimate: 50 + 40 = 90.``
      — quick, and wrong unless the rounding happens not to matter."""

    slips: frozenset[int] = frozenset()  # indices (over all operations, in order) whose result is off
    recheck: bool = False
    boxed: bool = True
    route: str = "direct"
    recheck_style: str = "columns"  # columns: exact, digit by digit; repeat: the direct pass again, with its slips
    recheck_slips: frozenset[int] = frozenset()  # a repeated recheck's own slipped lines

    def __post_init__(self) -> None:
        if self.route not in ROUTES:
            raise ValueError(f"unknown route {self.route!r}; choose one of {', '.join(ROUTES)}")
        if self.recheck_style not in RECHECKS:
            raise ValueError(f"unknown recheck style {self.recheck_style!r}; choose one of {', '.join(RECHECKS)}")


def _first_pass(chains, slips: frozenset[int], rng: random.Random) -> tuple[list[str], list[int]]:
    lines, results, index = [], [], 0
    for chain in chains:
        value = None
        for op in chain:
            left = op.left if op.left is not None else value
            value = apply(op.symbol, left, op.right)
            if index in slips:  # never a no-op and never below 0: a negative slip that would be flips sign
                delta = rng.choice(SLIP_DELTAS)
                value = value + delta if value + delta >= 0 else value - delta
            lines.append(f"{left} {op.symbol} {op.right} = {value}.")
            index += 1
        results.append(value)
    return lines, results


def _estimate_pass(chains) -> tuple[str, list[int]]:
    """``Estimate: 50 + 40 = 90, 90 - 20 = 70.``: each number of the question rounded (``round_estimate``), the
    running value carried as it is; compare's two chains separated by a full stop."""
    parts, results = [], []
    for chain in chains:
        steps, value = [], None
        for op in chain:
            left = round_estimate(op.left) if op.left is not None else value
            right = round_estimate(op.right) if op.symbol != "*" else op.right
            value = apply(op.symbol, left, right)
            steps.append(f"{left} {op.symbol} {right} = {value}")
        parts.append(", ".join(steps) + ".")
        results.append(value)
    return "Estimate: " + " ".join(parts), results


def _conclusion(problem: ToyProblem, results: list[int]) -> str:
    if problem.family != "compare":
        return ""
    larger = max(results)
    sign = ">" if results[0] > results[1] else "<" if results[0] < results[1] else "="
    return f" {results[0]} {sign} {results[1]}, so the larger is {larger}."


def solution(problem: ToyProblem, style: SolutionStyle = SolutionStyle(), seed: int = 0) -> tuple[str, int]:
    """The worked solution text (starting with a space, as it follows "Answer:") and the answer it ends
    with — the true answer unless a slip went unrepaired."""
    rng = random.Random(f"{problem.id}/{seed}")
    if style.route == "estimate":
        first, results = _estimate_pass(problem.chains)
        text = " " + first + _conclusion(problem, results)
    else:
        lines, results = _first_pass(problem.chains, style.slips, rng)
        text = " " + " ".join(lines) + _conclusion(problem, results)
    final = max(results) if problem.family == "compare" else results[-1]
    if style.recheck and style.recheck_style == "repeat":  # no more reliable than the first pass: it may slip too
        lines, results = _first_pass(problem.chains, style.recheck_slips, rng)
        text += " Recheck: " + " ".join(lines) + _conclusion(problem, results)
        final = max(results) if problem.family == "compare" else results[-1]
    elif style.recheck:
        steps = []
        for chain in problem.chains:
            value = None
            for op in chain:
                left = op.left if op.left is not None else value
                steps.append(", ".join(recheck_steps(op.symbol, left, op.right)))
                value = apply(op.symbol, left, op.right)
        truth = [evaluate_chain(chain) for chain in problem.chains]
        text += " Recheck: " + ". ".join(steps) + "." + _conclusion(problem, truth)
        final = problem.answer
    answer = f"\\boxed{{{final}}}" if style.boxed else str(final)
    return f"{text} The answer is {answer}.", final
