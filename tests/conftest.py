"""Shared test fixtures: where the real data lives (tests that need it skip when it is absent)."""

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
BENCHMARK_DIR = SHARED_DATA / "benchmarks"


@pytest.fixture(scope="session")
def benchmark_dir() -> Path:
    if not BENCHMARK_DIR.is_dir():
        pytest.skip(f"real benchmark data not found at {BENCHMARK_DIR} (it sits beside the repository "
                    f"as ../shared/data on the project's machines)")
    return BENCHMARK_DIR
