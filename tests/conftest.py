"""Shared test fixtures: where the real data lives (tests that need it skip when it is absent).

The data sits beside the repository as ``../shared/data`` on the project's machines; set
``ONESHOT_RLVR_SHARED_DATA`` to use another folder with the same layout.
"""

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(os.environ.get("ONESHOT_RLVR_SHARED_DATA")
                   or Path(__file__).resolve().parents[1].parent / "shared" / "data")
BENCHMARK_DIR = SHARED_DATA / "benchmarks"


@pytest.fixture(scope="session")
def benchmark_dir() -> Path:
    if not BENCHMARK_DIR.is_dir():
        pytest.skip(f"real benchmark data not found at {BENCHMARK_DIR} (it sits beside the repository as "
                    f"../shared/data on the project's machines; or set ONESHOT_RLVR_SHARED_DATA)")
    return BENCHMARK_DIR
