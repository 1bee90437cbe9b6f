"""benchmarks/gpu_e2e.py on CPU with tiny shapes (--smoke): the prepared GPU check runs every stage end to end."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("peft", reason="the script's LoRA stage needs peft")
REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_e2e_smoke_runs_every_stage(tmp_path):
    out = tmp_path / "e2e.json"
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_e2e.py"), "--smoke", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    report = json.loads(out.read_text())
    assert done.returncode == 0, report
    assert list(report["runs"]) == ["grpo", "lora", "ppo", "eval_grpo", "eval_lora_merged"]
    assert all(run["rc"] == 0 for run in report["runs"].values())
    assert "checkpoints/step-2/merged/config.json" in report["runs"]["lora"]["files"]
    assert [step["step"] for step in report["runs"]["grpo"]["steps"]] == [1, 2]
    assert report["runs"]["grpo"]["tokens_per_s"] > 0
