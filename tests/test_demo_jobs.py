"""The demo's parallel training jobs (``oneshot_rlvr.demo_jobs``): a run's numbers do not depend on what runs
beside it, progress lines come from the runs' logs, and a failed job stops the rest with its log named."""

import json

import pytest

pytest.importorskip("trl")

from oneshot_rlvr.demo_jobs import JobFailed, TrainJob, run_jobs  # noqa: E402

TIMING_KEYS = {"step_seconds"}


def recipe(model, pool, seed, **extra):
    return {"model": model, "data": pool, "examples": "1", "reward": "outcome", "seed": seed, "steps": 2,
            "prompts_per_step": 2, "rollouts": 2, "micro_batch_size": 4, "max_response_tokens": 8,
            "template": "raw", "eval_every": 0, "save_every": 0, "dtype": "float32", "learning_rate": 1e-3, **extra}


def numbers(folder):
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING_KEYS}
            for line in (folder / "metrics.jsonl").read_text().splitlines()]


def test_a_run_gives_the_same_numbers_alone_or_beside_another(tmp_path, tiny, pool):
    said = []
    done = []
    beside = [TrainJob("a", recipe(tiny, pool, 0)), TrainJob("b", recipe(tiny, pool, 1))]
    run_jobs(tmp_path / "together", beside, 2, said.append, lambda job, seconds: done.append(job.name))
    run_jobs(tmp_path / "alone", [TrainJob("a", recipe(tiny, pool, 0))], 1, said.append)
    assert sorted(done) == ["a", "b"]
    assert numbers(tmp_path / "together" / "a") == numbers(tmp_path / "alone" / "a")
    assert numbers(tmp_path / "together" / "a") != numbers(tmp_path / "together" / "b")  # another seed
    assert (tmp_path / "together" / "recipes" / "a.yaml").is_file()
    assert "seed: 0" in (tmp_path / "together" / "a" / "config.yaml").read_text()
    assert any(line.startswith("a: 2 steps") for line in said)


def test_a_failed_job_stops_the_rest_and_names_its_log(tmp_path, tiny, pool):
    jobs = [TrainJob("bad", recipe(tiny, pool, 0, examples="no-such-id")), TrainJob("later", recipe(tiny, pool, 1))]
    with pytest.raises(JobFailed, match=r"bad: training exited with status 2; see .*logs/bad.log"):
        run_jobs(tmp_path, jobs, 1, lambda line: None)
    assert "no-such-id" in (tmp_path / "logs" / "bad.log").read_text()
    assert not (tmp_path / "later").exists()
