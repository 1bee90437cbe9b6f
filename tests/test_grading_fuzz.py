"""The grader under fuzzing and load (grading/fuzz.py): seeded adversarial cases, each verdict within the cap
(+ 0.5 s) in threads and in a process pool, nothing executed, memory bounded, no workers or files left behind.

The default suite runs 48 cases; ``-m slow`` runs 320 in threads, 64 in a process pool and a 60 s load test.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest

from oneshot_rlvr.grading import DEFAULT_TIMEOUT_SECONDS, REASONS, grade, shared_pool, warm_up
from oneshot_rlvr.grading.fuzz import FAMILIES, fuzz_cases

LIMIT = DEFAULT_TIMEOUT_SECONDS + 0.5


def _timed(case):
    start = time.monotonic()
    verdict = grade(case.response, case.gold)
    return verdict, time.monotonic() - start


def _check(cases, results, marker) -> None:
    for case, (verdict, elapsed) in zip(cases, results):
        assert verdict.reason in REASONS, (case.family, verdict)
        assert elapsed < LIMIT, f"{case.family}: {elapsed:.2f} s ({verdict.reason})"
        if case.expect is not None:
            assert verdict.correct is case.expect, (case.family, verdict)
    assert not os.path.exists(marker), "a payload was executed"


def _rss_mib(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def _children() -> list[int]:
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == me:
                        found.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return found


def test_the_generator_is_seeded_and_covers_every_family(tmp_path):
    marker = str(tmp_path / "ran")
    first, again = fuzz_cases(64, seed=3, marker=marker), fuzz_cases(64, seed=3, marker=marker)
    assert first == again and fuzz_cases(64, seed=4, marker=marker) != first
    assert len({case.family.split("-")[0] for case in first}) == len(FAMILIES)
    assert max(len(case.response) for case in first) >= 500_000  # megabyte responses are in it


def test_fuzz_cases_in_four_threads(tmp_path):
    marker = str(tmp_path / "ran")
    cases = fuzz_cases(48, seed=1, marker=marker)
    warm_up()
    with ThreadPoolExecutor(4) as executor:
        results = list(executor.map(_timed, cases))
    _check(cases, results, marker)


@pytest.mark.slow
def test_320_fuzz_cases_in_threads_with_bounded_memory(tmp_path):
    marker = str(tmp_path / "ran")
    cases = fuzz_cases(320, seed=0, marker=marker)
    warm_up()
    before = _rss_mib()
    with ThreadPoolExecutor(4) as executor:
        results = list(executor.map(_timed, cases))
    _check(cases, results, marker)
    assert _rss_mib() - before < 1024  # the cases themselves hold ~50 MB
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest finished worker
    assert workers < 4 * 1024 + 512  # workers cap their address space at 4 GiB


def _grade_in_pool(case):
    return _timed(case)


@pytest.mark.slow
def test_64_fuzz_cases_in_a_process_pool(tmp_path):
    marker = str(tmp_path / "ran")
    cases = fuzz_cases(64, seed=2, marker=marker)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork"), initializer=warm_up,
                             initargs=(1,)) as executor:
        results = list(executor.map(_grade_in_pool, cases, timeout=600))
    _check(cases, results, marker)


@pytest.mark.slow
def test_60_seconds_of_load_leave_no_workers_or_files_behind(tmp_path):
    marker = str(tmp_path / "ran")
    cases = fuzz_cases(400, seed=5, marker=marker)
    warm_up()
    shared_pool().close()  # from a known state: no workers, then the files this process holds
    files_before = len(os.listdir("/proc/self/fd"))
    deadline, counts = time.monotonic() + 60, []

    def grade_until_deadline(offset: int) -> int:
        done = 0
        while time.monotonic() < deadline:
            case = cases[(offset + 4 * done) % len(cases)]
            verdict, elapsed = _timed(case)
            assert elapsed < LIMIT and verdict.reason in REASONS, f"{case.family}: {elapsed:.2f} s, {verdict}"
            done += 1
        return done

    with ThreadPoolExecutor(4) as executor:
        counts = list(executor.map(grade_until_deadline, range(4)))
    assert sum(counts) > 40 and not os.path.exists(marker)
    shared_pool().close()
    time.sleep(0.5)  # killed workers are reaped
    assert _children() == []
    assert len(os.listdir("/proc/self/fd")) <= files_before
