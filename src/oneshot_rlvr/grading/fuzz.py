"""Seeded adversarial (response, gold) pairs for the grader: for the fuzz tests and ``benchmarks/grading.py``.

``fuzz_cases(count, seed)`` draws ``count`` cases, cycling through the families below with random sizes and
contents from ``random.Random(seed)``: the same seed gives the same cases. Each case is built to hang,
exhaust or exploit a grader, or to be read wrongly; none is expected to be graded correct except where the
family says so (``expect`` is True, False or None for "either, but in time"). Payloads that would run a
command or read a file name ``marker``: if it ever exists, something was executed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

LOOKALIKES = "０１２３４５６７８９−–—⁻¹²³ⅠⅡ٣۴߅𝟓𝟔"  # fullwidth and mathematical digits, minus signs, superscripts


@dataclass(frozen=True)
class FuzzCase:
    family: str
    response: str
    gold: str
    expect: bool | None  # the verdict the case must get; None: any, as long as it is in time


def _box(body: str) -> str:
    return f"So the answer is \\boxed{{{body}}}."


def _braces(rng: random.Random, gold: str, marker: str) -> FuzzCase:
    depth = rng.randint(50, 5000)
    kind = rng.choice(["open", "close", "nested-box", "mixed"])
    body = {"open": "{" * depth + gold, "close": gold + "}" * depth,
            "nested-box": "\\boxed{" * depth + str(int(gold) + 1) + "}" * depth,
            "mixed": "".join(rng.choice("{}()[]") for _ in range(depth))}[kind]
    return FuzzCase(f"braces-{kind}", _box(body), gold, False if kind == "nested-box" else None)


def _huge(rng: random.Random, gold: str, marker: str) -> FuzzCase:
    a, b, c = rng.randint(2, 99), rng.randint(5, 99), rng.randint(5, 99)
    body = rng.choice([f"{a}^{{{b}^{{{c}^{{{a}}}}}}}", f"{rng.randint(10**6, 10**9)}!", f"({a}^{{{b}^{{{c}}}}})!",
                       f"\\sum_{{n=1}}^{{10^{{{b}}}}} n^{{n}}", f"\\prod_{{k=1}}^{{{rng.randint(10**6, 10**9)}}} k",
                       f"(x+1)^{{{rng.randint(10**4, 10**6)}}}", f"e^{{e^{{e^{{{a}}}}}}}",
                       f"\\sin({a}^{{{b}^{{{c}}}}})", f"{a}^{{-{b}^{{{c}}}}}"])
    return FuzzCase("huge", _box(body), gold, False)


def _digits(rng: random.Random, gold: str, marker: str) -> FuzzCase:
    length = rng.randint(400, 200_000)
    digits = "".join(rng.choice("0123456789") for _ in range(min(length, 5000))) * (length // 5000 + 1)
    kind = rng.choice(["answer", "gold", "decimal", "near"])
    if kind == "gold":
        return FuzzCase("digits-gold", _box(gold), "9" + digits[:length], False)
    if kind == "decimal":
        return FuzzCase("digits-decimal", _box(f"{gold}.{'0' * length}1"), gold, False)
    if kind == "near":  # the same long integer but its last digit: exact comparison must see it
        number = "7" + digits[:length]
        return FuzzCase("digits-near", _box(number[:-1] + str((int(number[-1]) + 1) % 10)), number, False)
    return FuzzCase("digits-answer", _box("8" + digits[:length]), gold, False)


def _fractions(rng: random.Random, gold: str, marker: str) -> FuzzCase:
    text = "1"
    for _ in range(rng.randint(50, 600)):
        text = rng.choice(["\\frac{1}{1+%s}", "\\frac{%s}{2}", "\\sqrt{%s}", "(%s)^{2}", "\\dfrac{%s}{3}"]) % text
    return FuzzCase("deep-frac", _box(text), gold, None)


def _lookalikes(rng: random.Random, gold: str, marker: str) -> FuzzCase:
    body = "".join(rng.choice(LOOKALIKES) if rng.random() < 0.6 else ch for ch in gold * rng.randint(1, 4))
    body += "".join(rng.choice(LOOKALIKES) for _ in range(rng.randint(0, 40)))
    return FuzzCase("lookalike", _box(body), gold, None)


def _nul(rng: random.Random, gold: str, marker: str) -> FuzzCase:
    noise = "".join(rng.choice(["\x00", "\x01", "\x1b[31m", "\ufeff", "\u202e", "\ud7ff", "\x7f"])
                    for _ in range(rng.randint(10, 20_000)))
    return FuzzCase("control-chars", noise + _box(f"\x00{int(gold) + 2}\x00") + noise, gold, False)


def _megabyte(rng: random.Random, gold: str, marker: str) -> FuzzCase:
    size = rng.randint(500_000, 2_000_000)
    unit = rng.choice(["word ", "\\boxed{1} ", "the answer is ", "$", "$x$ ", "\\( ", "Answer: ", "1, ", "{"])
    return FuzzCase(f"megabyte-{unit.strip()[:8] or 'space'}", unit * (size // len(unit)), gold, None)


def _exploit(rng: random.Random, gold: str, marker: str) -> FuzzCase:
    touch = f"__import__('os').system('touch {marker}')"
    body = rng.choice([touch, f'eval("{touch}")', f'exec("{touch}")', f"\\immediate\\write18{{touch {marker}}}",
                       f"\\input{{{marker}}}", f"\\include{{{marker}}}", f"\\openin5={marker}",
                       f"x+{touch}", f"\\directlua{{os.execute('touch {marker}')}}",
                       f"lambda: open('{marker}', 'w')", f"__import__('subprocess').run(['touch', '{marker}'])"])
    where = rng.choice(["box", "block", "cue"])
    response = {"box": _box(body), "block": f"```python\n{body}\n```\nThe answer is {body}",
                "cue": f"Final answer: ${body}$"}[where]
    return FuzzCase(f"exploit-{where}", response, gold, False)


FAMILIES: list[Callable[[random.Random, str, str], FuzzCase]] = [
    _braces, _huge, _digits, _fractions, _lookalikes, _nul, _megabyte, _exploit]


def fuzz_cases(count: int, seed: int = 0, marker: str = "/tmp/oneshot-rlvr-fuzz-executed") -> list[FuzzCase]:
    """``count`` cases, the families in turn, each with its own gold number; same seed, same cases."""
    rng = random.Random(seed)
    return [FAMILIES[i % len(FAMILIES)](rng, str(rng.randint(2, 10**6)), marker) for i in range(count)]
