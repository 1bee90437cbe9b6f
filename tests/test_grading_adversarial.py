"""Adversarial model output: every verdict is a wrong answer within the time limit, from the main thread,
from several threads at once and from pool processes; and nothing in a response is ever executed.

Each test grades against its own gold number, so no test is answered from the grader's cache of symbolic
outcomes that an earlier test filled.
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest

from oneshot_rlvr.grading import DEFAULT_TIMEOUT_SECONDS, REASONS, Verdict, grade, grade_many, warm_up

LIMIT = DEFAULT_TIMEOUT_SECONDS + 0.5  # the documented limit plus slack for a loaded test machine


def _box(body: str) -> str:
    return f"So the answer is \\boxed{{{body}}}"


def _nested_fraction(depth: int) -> str:
    text = "1"
    for _ in range(depth):
        text = f"\\frac{{1}}{{1+{text}}}"
    return text


def adversarial(gold: str) -> dict[str, tuple[str, str]]:
    """name → (response, gold): none of these responses is a correct answer for ``gold`` (a number)."""
    code = "__import__('os').system('touch /tmp/oneshot-rlvr-adversarial')"
    return {
        "tower-10": (_box("10^{10^{10^{10}}}"), gold),
        "tower-9": (_box("9^{9^{9^{9}}}"), gold),
        "factorial": (_box("99999999!"), gold),
        "factorial-of-tower": (_box("(10^{10^{10}})!"), gold),
        "huge-sum": (_box("\\sum_{n=1}^{10^{10}} n^{n}"), gold),
        "huge-product": (_box("\\prod_{k=1}^{99999999} k"), gold),
        "integral": (_box("\\int_0^{\\infty} e^{-x^{x}}\\,dx"), gold),
        "x-tower-vs-polynomial": (_box("x^{x^{x^{x^{x}}}}"), f"x^{gold}+3x^2+1"),
        "binomial-power": (_box("(x+1)^{100000}"), f"x^{gold}+1"),
        "list-of-towers": (_box(",".join(["9^{9^{9}}"] * 60)), ",".join([gold] * 60)),
        "parentheses-450-deep": (_box("(" * 450 + "6" + ")" * 450), gold),
        "powers-200-deep": (_box("x^{" * 200 + "x" + "}" * 200), gold),
        "fractions-300-deep": (_box(_nested_fraction(300)), gold),
        "sum-of-400-variables": (_box("+".join(f"x_{{{i}}}" for i in range(400))), gold),
        "matrix-60x60": (_box("\\begin{pmatrix}" + "\\\\".join(
            "&".join(str(i * j) for j in range(60)) for i in range(60)) + "\\end{pmatrix}"), gold),
        "1mb-prose": ("word " * 200_000 + _box("4"), gold),
        "1mb-open-braces": ("{" * 1_000_000, gold),
        "1mb-number": (_box("7" * 1_000_000), gold),
        "1mb-of-boxes": ("\\boxed{1} " * 100_000, gold),
        "100k-answer-is": ("the answer is " * 100_000, gold),
        "boxed-3000-deep": ("\\boxed{" * 3000 + "1" + "}" * 3000, gold),
        "unbalanced-open": ("\\boxed{{{{{{6}", gold),
        "unbalanced-close": ("}}}\\boxed{6}}}}}}}", gold),
        "input-etc-passwd": (_box("\\input{/etc/passwd}"), gold),
        "python-in-box": (_box(code), gold),
        "python-block": (f"```python\n{code}\n```\nThe answer is {code}", gold),
        "nul-bytes": ("\x00" * 1000 + "\\boxed{\x006\x00}" + "\x00", gold),
        "5000-digit-answer": (_box("9" * 5000), gold),
        "5000-digit-gold": (_box(gold), "9" * 5000),
        "just-above-gold": (_box(f"{gold}." + "0" * 300 + "1"), gold),
    }


NAMES = list(adversarial("5"))
LONG_LIST = "long-list"  # two 1000-item lists that only the symbolic stage could pair: once O(n^2) in-process


def _assert_wrong_in_time(name: str, verdict: Verdict, elapsed: float) -> None:
    assert isinstance(verdict, Verdict), name
    assert verdict.correct is False, (name, verdict)
    assert verdict.reason in REASONS, (name, verdict)
    assert elapsed < LIMIT, f"{name}: {elapsed:.2f} s ({verdict.reason})"


def _timed_grade(response: str, gold: str, mode: str = "lenient") -> tuple[Verdict, float]:
    start = time.monotonic()
    verdict = grade(response, gold, mode=mode)
    return verdict, time.monotonic() - start


@pytest.fixture(scope="module", autouse=True)
def warm_workers() -> None:
    warm_up()


@pytest.mark.parametrize("name", NAMES + [LONG_LIST])
def test_main_thread_verdict_is_wrong_within_the_limit(name: str) -> None:
    if name == "long-list":
        response, gold = _box(",".join(["x"] * 1000)), ",".join(["y"] * 1000)
    else:
        response, gold = adversarial("5")[name]
    _assert_wrong_in_time(name, *_timed_grade(response, gold))


def test_four_threads_at_once_every_verdict_within_the_limit() -> None:
    cases = adversarial("7")
    with ThreadPoolExecutor(max_workers=4) as executor:
        futures = {name: executor.submit(_timed_grade, response, gold, "strict")
                   for name, (response, gold) in cases.items()}
        results = {name: future.result(timeout=120) for name, future in futures.items()}
    for name, (verdict, elapsed) in results.items():
        _assert_wrong_in_time(name, verdict, elapsed)
    assert sum(verdict.reason == "no-answer" for verdict, _ in results.values()) < len(results) / 2


def _pool_grade(item: tuple[str, str, str]) -> tuple[Verdict, float]:
    _, response, gold = item
    return _timed_grade(response, gold)


def _pool_items(gold: str) -> list[tuple[str, str, str]]:
    cases = adversarial(gold)
    items = [(name, *cases[name]) for name in ("tower-10", "list-of-towers", "1mb-prose", "python-block")]
    # a control the symbolic stage must prove: the pool process really reaches its own symbolic worker
    return items + [("control", _box(f"(x+{gold})^2"), f"x^2+{2 * int(gold)}x+{int(gold) ** 2}")]


def _check_pool_results(items: list[tuple[str, str, str]], results: list[tuple[Verdict, float]]) -> None:
    for (name, _, _), (verdict, elapsed) in zip(items[:-1], results[:-1]):
        _assert_wrong_in_time(name, verdict, elapsed)
    control, elapsed = results[-1]
    assert (control.correct, control.reason) == (True, "symbolic"), control
    assert elapsed < LIMIT


def test_multiprocessing_fork_pool_workers_grade_within_the_limit() -> None:
    items = _pool_items("8")
    with multiprocessing.get_context("fork").Pool(2, initializer=warm_up, initargs=(1,)) as pool:
        results = pool.map_async(_pool_grade, items, chunksize=1).get(timeout=120)
    _check_pool_results(items, results)


def test_process_pool_executor_workers_grade_within_the_limit() -> None:
    items = _pool_items("9")
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork"), initializer=warm_up,
                             initargs=(1,)) as executor:
        results = list(executor.map(_pool_grade, items, timeout=120))
    _check_pool_results(items, results)


def test_a_killed_symbolic_check_is_a_timeout_and_the_next_verdict_still_works() -> None:
    start = time.monotonic()
    verdict = grade(_box("10^{10^{10^{10}}}"), "11", timeout=0.5)
    assert (verdict.correct, verdict.reason) == (False, "timeout"), verdict
    assert time.monotonic() - start < 0.5 + 0.5
    verdict, elapsed = _timed_grade(_box("(y+1)^2"), "y^2+2y+1")
    assert (verdict.correct, verdict.reason) == (True, "symbolic"), verdict
    assert elapsed < LIMIT


@pytest.mark.parametrize("mode", ["lenient", "strict"])
def test_nothing_in_a_response_is_executed(tmp_path, mode: str) -> None:
    marker = tmp_path / "executed"
    touch = f"__import__('os').system('touch {marker}')"
    payloads = [
        _box(touch),
        _box(f'eval("{touch}")'),
        _box(f"exec(\"{touch}\")"),
        f"```python\n{touch}\n```\nThe answer is {touch}",
        f"```python\nimport os\nos.system('touch {marker}')\n```\nThe final answer is ${touch}$.",
        _box(f"\\immediate\\write18{{touch {marker}}}"),
        _box(f"x+{touch}"),
    ]
    verdicts = [grade(payload, "5", mode=mode) for payload in payloads]
    verdicts += grade_many([(payload, "6") for payload in payloads], mode=mode)
    assert all(verdict.correct is False and verdict.reason in REASONS for verdict in verdicts), verdicts
    assert not marker.exists()


def test_input_does_not_read_files(tmp_path) -> None:
    answer_file = tmp_path / "answer.tex"
    answer_file.write_text("5\n")
    for response in (_box(f"\\input{{{answer_file}}}"), _box(f"\\input{{{tmp_path / 'answer'}}}"),
                     f"The final answer is $\\input{{{answer_file}}}$."):
        verdict = grade(response, "5")
        assert verdict.correct is False and verdict.reason in REASONS, (response, verdict)
