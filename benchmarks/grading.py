"""Grader speed: our ``grade`` / ``grade_many`` against math-verify alone, on the same (response, gold) pairs.

    python benchmarks/grading.py [--data-dir ../shared/data/benchmarks] [--workers 2] [--json OUT]

Sets: "gold corpora" (every benchmark in the data dir: each gold against its ``corpus.surface_forms``,
expected correct, and against its ``corpus.perturbed`` value, expected wrong) and "adversarial" (inputs
built to hang, exhaust or exploit a grader; all expected wrong).

Ours: throughput (verdicts/s) from one ``grade_many`` call; latency (p50 / p99 / max per verdict) from
one ``grade`` call per pair after ``warm_up()``. Each of the two runs in a fresh forked process, so
neither is answered from the other's cache of symbolic outcomes.
math-verify alone: ``parse(gold)``, ``parse(response)``, ``verify`` with its default configs, in the main
thread (its signal timeouts work there), one pair after another, so throughput = pairs / total time.
On the adversarial set each pair runs in its own subprocess (address space capped at 4 GiB, as our
workers are), killed after 10 s (counted as 10 s). "agree": share of verdicts equal to the expected one.
Under load (``--load-seconds``, default 60): seeded fuzz cases (``grading.fuzz``) graded one at a time from
4 threads: verdicts/s, the slowest verdict and how many took longer than the limit + 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from oneshot_rlvr.data.benchmarks import BENCHMARKS, load_benchmark
from oneshot_rlvr.grading import DEFAULT_TIMEOUT_SECONDS, corpus, grade, grade_many, warm_up

LIMIT_SECONDS = DEFAULT_TIMEOUT_SECONDS
KILL_SECONDS = 10.0
TARGET_RATE = 1000.0
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "benchmarks"  # ../shared/data/benchmarks

# Runs one math-verify check in a subprocess: "ready" once imported, then the seconds of parse + verify.
_MATH_VERIFY_CHILD = r"""
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (4 * 1024**3, 4 * 1024**3))
from math_verify import parse, verify
print("ready", flush=True)
response, gold = json.loads(sys.stdin.read())
start = time.perf_counter()
correct = bool(verify(parse(gold), parse(response)))
print(json.dumps([time.perf_counter() - start, correct]), flush=True)
"""


def math_verify_gold(gold: str) -> str:
    return gold if "$" in gold else f"${gold}$"  # math-verify reads LaTeX between math delimiters


def gold_pairs(data_dir: Path) -> tuple[list[str], list[tuple[str, str, bool]]]:
    names = [name for name in BENCHMARKS if (data_dir / name).is_dir()]
    pairs = []
    for name in names:
        for problem in load_benchmark(name, data_dir):
            pairs += [(response, problem.answer, True) for response in corpus.surface_forms(problem.answer)]
            pairs.append((corpus.surface_forms(corpus.perturbed(problem.answer))[0], problem.answer, False))
    return names, pairs


def adversarial_inputs(marker: str) -> list[tuple[str, str, str]]:
    """(name, response, gold); ``marker`` is a file that exists only if some grader ran a payload."""
    touch = f"__import__('os').system('touch {marker}')"
    nested_fraction = "1"
    for _ in range(300):
        nested_fraction = f"\\frac{{1}}{{1+{nested_fraction}}}"
    box = lambda body: f"So the answer is \\boxed{{{body}}}"  # noqa: E731
    return [
        ("tower 10^10^10^10", box("10^{10^{10^{10}}}"), "5"),
        ("tower 9^9^9^9", box("9^{9^{9^{9}}}"), "5"),
        ("tower e^e^e^e^e", box("e^{e^{e^{e^{e}}}}"), "5"),
        ("tower 9^9^9 + 1 vs itself", box("9^{9^{9}}+1"), "9^{9^{9}}"),
        ("x^x^x^x^x vs polynomial", box("x^{x^{x^{x^{x}}}}"), "x^5+3x^2+1"),
        ("99999999!", box("99999999!"), "5"),
        ("(10^10^10)!", box("(10^{10^{10}})!"), "5"),
        ("sum to 10^10 of n^n", box("\\sum_{n=1}^{10^{10}} n^{n}"), "5"),
        ("product to 99999999", box("\\prod_{k=1}^{99999999} k"), "5"),
        ("integral of e^-x^x", box("\\int_0^{\\infty} e^{-x^{x}}\\,dx"), "5"),
        ("99999th root", box("\\sqrt[99999]{99999^{99999}}"), "5"),
        ("sin(10^10^10)", box("\\sin(10^{10^{10}})"), "5"),
        ("(x+1)^100000 vs polynomial", box("(x+1)^{100000}"), "x^5+1"),
        ("1 MB of prose", "word " * 200_000 + box("4"), "5"),
        ("1 MB of open braces", "{" * 1_000_000, "5"),
        ("1 MB number in a box", box("7" * 1_000_000), "5"),
        ("1 MB of \\boxed{1}", "\\boxed{1} " * 100_000, "5"),
        ("100k 'the answer is'", "the answer is " * 100_000, "5"),
        ("\\boxed{ nested 3000 deep", "\\boxed{" * 3000 + "1" + "}" * 3000, "5"),
        ("unbalanced open braces", "\\boxed{{{{{{6}", "5"),
        ("unbalanced close braces", "\\boxed{6}}}}}}}", "5"),
        ("\\input{/etc/passwd}", box("\\input{/etc/passwd}"), "5"),
        ("\\write18 shell escape", box(f"\\immediate\\write18{{touch {marker}}}"), "5"),
        ("python in a box", box(touch), "5"),
        ("python eval in a box", box(f'eval("{touch}")'), "5"),
        ("```python block", f"```python\n{touch}\n```\nThe answer is {touch}", "5"),
        ("NUL bytes", "\x00" * 1000 + "\\boxed{\x006\x00}", "5"),
        ("5000-digit integer", box("9" * 5000), "5"),
        ("5000-digit gold", box("5"), "9" * 5000),
        ("5000-digit power", box("9" * 2000 + "^{" + "9" * 2000 + "}"), "5"),
        ("5.000...0001 (300 zeros)", box("5." + "0" * 300 + "1"), "5"),
        ("fractions nested 300 deep", box(nested_fraction), "5"),
        ("parentheses nested 450 deep", box("(" * 450 + "6" + ")" * 450), "5"),
        ("x^{x^...} nested 200 deep", box("x^{" * 200 + "x" + "}" * 200), "5"),
        ("sum of 400 variables", box("+".join(f"x_{{{i}}}" for i in range(400))), "5"),
        ("sum of 400 ones", box("+".join(["1"] * 400)), "5"),
        ("60x60 matrix", box("\\begin{pmatrix}" + "\\\\".join(
            "&".join(str(i * j) for j in range(60)) for i in range(60)) + "\\end{pmatrix}"), "5"),
        ("list of 60 towers vs 60 fives", box(",".join(["9^{9^{9}}"] * 60)), ",".join(["5"] * 60)),
        ("1000-item list vs 1000-item gold", box(",".join(["x"] * 1000)), ",".join(["y"] * 1000)),
    ]


def _ours_throughput(pairs: list[tuple[str, str]], workers: int) -> tuple[float, list[bool]]:
    warm_up(workers)
    start = time.perf_counter()
    verdicts = grade_many(pairs, workers=workers)
    return time.perf_counter() - start, [verdict.correct for verdict in verdicts]


def _ours_latency(pairs: list[tuple[str, str]], workers: int) -> tuple[list[float], list[str]]:
    warm_up(workers)
    seconds, reasons = [], []
    for response, gold in pairs:
        start = time.perf_counter()
        reasons.append(grade(response, gold).reason)
        seconds.append(time.perf_counter() - start)
    return seconds, reasons


def in_fresh_process(function, *args):
    """``function(*args)`` in a forked child: an empty symbolic cache and its own workers."""
    with ProcessPoolExecutor(1, mp_context=get_context("fork")) as pool:
        return pool.submit(function, *args).result()


def math_verify_inline(pairs: list[tuple[str, str]]) -> tuple[float, list[float], list[bool]]:
    from math_verify import parse, verify

    seconds, correct = [], []
    begin = time.perf_counter()
    for response, gold in pairs:
        start = time.perf_counter()
        correct.append(bool(verify(parse(math_verify_gold(gold)), parse(response))))
        seconds.append(time.perf_counter() - start)
    return time.perf_counter() - begin, seconds, correct


def math_verify_guarded(response: str, gold: str) -> tuple[float, bool, str]:
    """(seconds, correct, "ok" | "killed" | "crashed") for one pair, in a subprocess killed at 10 s."""
    child = subprocess.Popen([sys.executable, "-c", _MATH_VERIFY_CHILD], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    child.stdout.readline()  # "ready": the import is not part of the check
    start = time.perf_counter()
    try:
        out, _ = child.communicate(json.dumps([response, math_verify_gold(gold)]), timeout=KILL_SECONDS)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        return KILL_SECONDS, False, "killed"
    lines = out.strip().splitlines()
    if child.returncode != 0 or not lines:
        return time.perf_counter() - start, False, "crashed"
    seconds, correct = json.loads(lines[-1])
    return seconds, correct, "ok"


def summary(set_name: str, grader: str, rate: float, seconds: list[float], correct, expected) -> dict:
    ordered = sorted(seconds)
    rank = lambda q: ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]  # noqa: E731
    return {"set": set_name, "grader": grader, "pairs": len(seconds), "verdicts_per_s": rate,
            "p50_ms": 1e3 * rank(0.50), "p99_ms": 1e3 * rank(0.99), "max_ms": 1e3 * ordered[-1],
            "over_limit": sum(s > LIMIT_SECONDS for s in seconds),
            "agree": sum(c == e for c, e in zip(correct, expected)) / len(expected)}


def measure_ours(set_name: str, pairs: list[tuple[str, str, bool]], workers: int) -> tuple[dict, list, list]:
    plain = [(response, gold) for response, gold, _ in pairs]
    elapsed, correct = in_fresh_process(_ours_throughput, plain, workers)
    seconds, reasons = in_fresh_process(_ours_latency, plain, workers)
    row = summary(set_name, f"ours (grade_many, {workers} workers)", len(pairs) / elapsed, seconds, correct,
                  [expected for _, _, expected in pairs])
    return row, seconds, reasons


def markdown(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows])


def measure_load(seconds: float, threads: int = 4) -> dict:
    """Seeded fuzz cases (``grading.fuzz``) graded one by one from ``threads`` threads for ``seconds``:
    verdicts/s under load, the slowest verdict, and how many went past the limit + 0.5 s."""
    from concurrent.futures import ThreadPoolExecutor

    from oneshot_rlvr.grading.fuzz import fuzz_cases

    with tempfile.TemporaryDirectory() as scratch:
        cases = fuzz_cases(400, seed=0, marker=os.path.join(scratch, "ran"))
        warm_up()
        deadline = time.monotonic() + seconds

        def work(offset: int) -> list[float]:
            times, done = [], 0
            while time.monotonic() < deadline:
                case = cases[(offset + threads * done) % len(cases)]
                start = time.monotonic()
                grade(case.response, case.gold)
                times.append(time.monotonic() - start)
                done += 1
            return times

        started = time.monotonic()
        with ThreadPoolExecutor(threads) as executor:
            times = [t for chunk in executor.map(work, range(threads)) for t in chunk]
        wall = time.monotonic() - started
        executed = os.path.exists(os.path.join(scratch, "ran"))
    return {"threads": threads, "seconds": round(wall, 1), "verdicts": len(times),
            "verdicts_per_s": len(times) / wall, "max_ms": 1e3 * max(times),
            "over_limit_plus_0_5": sum(t > LIMIT_SECONDS + 0.5 for t in times), "payload_executed": executed}


def print_report(names: list[str], gold_count: int, rows: list[dict], per_input: list[dict], targets: dict) -> None:
    rate = lambda r: f"{r:.0f}" if r >= 10 else f"{r:.2f}"  # noqa: E731
    print(f"Gold corpora: {', '.join(names)} ({gold_count} pairs); adversarial: {len(per_input)} inputs\n")
    print(markdown(["set", "grader", "pairs", "verdicts/s", "p50 ms", "p99 ms", "max ms", "> 3 s", "agree"],
                   [[r["set"], r["grader"], r["pairs"], rate(r["verdicts_per_s"]), f"{r['p50_ms']:.2f}",
                     f"{r['p99_ms']:.1f}", f"{r['max_ms']:.1f}", r["over_limit"], f"{100 * r['agree']:.1f}%"]
                    for r in rows]) + "\n")
    print(markdown(["adversarial input", "ours ms", "ours reason", "math-verify s"],
                   [[p["input"], f"{p['ours_ms']:.1f}", p["ours_reason"],
                     f"{p['math_verify_s']:.2f}" + ("" if p["math_verify"] == "ok" else f" ({p['math_verify']})")]
                    for p in per_input]) + "\n")
    for name, figure in targets.items():
        print(f"- {name}: " + ", ".join(f"{key} {value:.0f}" if isinstance(value, float) else f"{key} {value}"
                                        for key, value in figure.items()))


def write_json(path: Path, figures: dict) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.resolve().parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(figures, out, indent=2)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--load-seconds", type=float, default=60.0,
                        help="fuzz cases from 4 threads for this long: verdicts/s under load (0: skip)")
    args = parser.parse_args(argv)
    logging.getLogger("math_verify").setLevel(logging.ERROR)  # its per-timeout warnings; counted below

    names, gold = gold_pairs(args.data_dir)
    if not gold:
        parser.error(f"no benchmark data under {args.data_dir}")
    with tempfile.TemporaryDirectory() as scratch:
        marker = os.path.join(scratch, "payload-ran")
        adversarial = adversarial_inputs(marker)
        adversarial_pairs = [(response, g, False) for _, response, g in adversarial]

        gold_row, _, _ = measure_ours("gold corpora", gold, args.workers)
        adversarial_row, our_seconds, our_reasons = measure_ours("adversarial", adversarial_pairs, args.workers)
        ours_ran_payload = os.path.exists(marker)
        if ours_ran_payload:
            os.remove(marker)

        total, seconds, correct = math_verify_inline([(r, g) for r, g, _ in gold])
        rows = [gold_row, summary("gold corpora", "math-verify alone", len(gold) / total, seconds, correct,
                                   [e for _, _, e in gold])]
        guarded = [math_verify_guarded(response, g) for _, response, g in adversarial]
        mv_seconds = [s for s, _, _ in guarded]
        rows += [adversarial_row, summary("adversarial", "math-verify alone (subprocess, 10 s kill)",
                                          len(guarded) / sum(mv_seconds), mv_seconds, [c for _, c, _ in guarded],
                                          [False] * len(guarded))]
        math_verify_ran_payload = os.path.exists(marker)

    per_input = [{"input": name, "ours_ms": 1e3 * ours, "ours_reason": reason, "math_verify_s": mv[0],
                  "math_verify": mv[2]} for (name, _, _), ours, reason, mv in zip(adversarial, our_seconds, our_reasons, guarded)]
    over_limit = gold_row["over_limit"] + adversarial_row["over_limit"]
    targets = {
        "gold corpora verdicts/s": {"target": TARGET_RATE, "got": gold_row["verdicts_per_s"],
                                    "met": gold_row["verdicts_per_s"] >= TARGET_RATE},
        "our verdicts over 3 s": {"target": 0, "got": over_limit, "met": over_limit == 0,
                                  "slowest ms": max(gold_row["max_ms"], adversarial_row["max_ms"])},
        "payload executed": {"ours": ours_ran_payload, "math-verify": math_verify_ran_payload},
    }
    load = measure_load(args.load_seconds) if args.load_seconds > 0 else None
    if load:
        targets["fuzz under load (4 threads)"] = {
            "verdicts/s": load["verdicts_per_s"], "verdicts": load["verdicts"], "max ms": load["max_ms"],
            "over 3.5 s": load["over_limit_plus_0_5"], "payload executed": load["payload_executed"]}
    print_report(names, len(gold), rows, per_input, targets)
    if args.json:
        write_json(args.json, {"benchmarks": names, "workers": args.workers, "limit_s": LIMIT_SECONDS,
                               "sets": rows, "adversarial": per_input, "targets": targets, "load": load})
    return 0


if __name__ == "__main__":
    sys.exit(main())
