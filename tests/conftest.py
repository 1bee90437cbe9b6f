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


TINY_POOL = [{"id": 1, "problem": "What is 2+3?", "answer": "5"}, {"id": 2, "problem": "What is 4*4?", "answer": "16"}]


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> str:
    """A saved tiny random Llama + tokenizer (the train and PPO tests' model)."""
    from oneshot_rlvr.models import save_tiny_random_model

    return str(save_tiny_random_model(tmp_path_factory.mktemp("tiny") / "model", seed=0))


@pytest.fixture
def pool(tmp_path) -> str:
    """A two-problem JSONL pool (ids 1 and 2)."""
    import json

    path = tmp_path / "pool.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in TINY_POOL))
    return str(path)


@pytest.fixture
def one_problem_benchmarks(tmp_path) -> Path:
    """A benchmark folder holding gsm8k with one problem (the train stage's held-out evaluations)."""
    import json

    folder = tmp_path / "bench" / "gsm8k"
    folder.mkdir(parents=True)
    folder.joinpath("test.jsonl").write_text(json.dumps({"question": "1+1?", "answer": "#### 2"}) + "\n")
    return folder.parent


def cut_off_the_hub(monkeypatch, tmp_path, *, offline: bool = False) -> None:
    """The Hub offline (HF_HUB_OFFLINE) or, with ``offline`` False, at a local port that refuses connections at
    once; the HF caches empty folders under ``tmp_path``."""
    import socket

    datasets_config = pytest.importorskip("datasets.config")
    from huggingface_hub import constants

    with socket.socket() as probe:  # a port nothing listens on: connections are refused at once
        probe.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{probe.getsockname()[1]}"
    for module in (constants, datasets_config):
        monkeypatch.setattr(module, "HF_HUB_OFFLINE", offline)
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(datasets_config, "HF_ENDPOINT", endpoint, raising=False)
    monkeypatch.setattr(datasets_config, "HF_DATASETS_CACHE", tmp_path / "datasets-cache", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
