"""The train stage on a tiny random model: outputs, the no-signal ablation, resume, bad configs."""

import json
from pathlib import Path

import pytest
import torch
import yaml

pytest.importorskip("trl")

from oneshot_rlvr.cli import main  # noqa: E402
from oneshot_rlvr.cliutil import CommandError  # noqa: E402
from oneshot_rlvr.config import load_recipe  # noqa: E402
from oneshot_rlvr.models import load_model  # noqa: E402
from oneshot_rlvr.train import run_training, training_examples  # noqa: E402

# fixtures tiny (a saved tiny random model), pool (two problems, ids 1 and 2) and one_problem_benchmarks:
# conftest.py


def recipe(tiny, pool, **changes):
    base = dict(model=tiny, data=pool, examples="1", prompts_per_step=2, rollouts=2, micro_batch_size=2,
                max_prompt_tokens=256, max_response_tokens=6, steps=2, save_every=1, keep_checkpoints=2,
                eval_every=0, learning_rate=1e-3, dtype="float32")
    base.update(changes)
    return load_recipe(None, base)


def read_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_short_run_writes_every_record(tiny, pool, one_problem_benchmarks, tmp_path):
    out = run_training(recipe(tiny, pool, eval_every=1, eval_benchmarks=("gsm8k",),
                              eval_data_dir=str(one_problem_benchmarks), eval_max_tokens=4), tmp_path / "run")
    evals = read_lines(out / "eval.jsonl")
    assert [e["step"] for e in evals] == [0, 1, 2] and evals[0]["benchmarks"]["gsm8k"]["n"] == 1
    metrics = read_lines(out / "metrics.jsonl")
    assert [m["step"] for m in metrics] == [1, 2]
    assert {"train_accuracy", "reward_mean", "reward_std", "entropy", "kl", "mean_length", "boxed_rate",
            "clip_ratio", "step_seconds", "tokens"} <= set(metrics[0])
    history = json.loads((out / "history.json").read_text())
    assert list(history) == ["1"] and len(history["1"]) == 4  # 2 copies per step x 2 steps
    assert all(value in (0.0, 0.5, 1.0) for value in history["1"])  # accuracy over a group of 2 rollouts
    checkpoints = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert checkpoints == ["step-1", "step-2"]
    reloaded = load_model(str(out / "checkpoints" / "step-2"))
    assert reloaded.model.dtype == torch.float32  # the base model's dtype
    assert (out / "config.yaml").is_file()


def test_each_step_records_zero_std_groups_and_a_seeded_sample_of_completions(tiny, pool, tmp_path):
    from oneshot_rlvr.rollout_records import SAMPLES_PER_STEP, sample_rows

    settings = dict(reward="random", steps=3, save_every=0, prompts_per_step=4, rollouts=2, micro_batch_size=4)
    runs = [run_training(recipe(tiny, pool, **settings), tmp_path / name) for name in ("a", "b")]
    metrics = read_lines(runs[0] / "metrics.jsonl")
    # 4 groups of 2 random 0/1 rewards: the share of groups whose 2 rewards are equal
    assert all(m["frac_reward_zero_std"] in (0.0, 0.25, 0.5, 0.75, 1.0) for m in metrics), metrics
    assert any(m["frac_reward_zero_std"] < 1 for m in metrics), metrics  # random rewards differ in some group
    samples = read_lines(runs[0] / "completions.jsonl")
    assert [s["step"] for s in samples] == [1, 1, 2, 2, 3, 3] and SAMPLES_PER_STEP == 2
    assert all(set(s) == {"step", "id", "completion", "reward"} and s["id"] == "1" for s in samples)
    assert all(s["reward"] in (0.0, 1.0) and isinstance(s["completion"], str) for s in samples)
    assert (runs[0] / "completions.jsonl").read_text() == (runs[1] / "completions.jsonl").read_text()  # same seed
    assert sample_rows(0, 1, 8) == sample_rows(0, 1, 8) != sample_rows(1, 1, 8)
    other = run_training(recipe(tiny, pool, **settings, seed=1), tmp_path / "c")
    assert (other / "completions.jsonl").read_text() != (runs[0] / "completions.jsonl").read_text()


def test_frac_reward_zero_std_is_one_when_every_reward_is_equal(tiny, pool, tmp_path):
    out = run_training(recipe(tiny, pool, reward="none", steps=1, save_every=0), tmp_path / "run")
    assert [m["frac_reward_zero_std"] for m in read_lines(out / "metrics.jsonl")] == [1.0]
    assert [s["reward"] for s in read_lines(out / "completions.jsonl")] == [0.0, 0.0]


def test_no_signal_leaves_the_weights_unchanged(tiny, pool, tmp_path):
    """Reward none (all advantages zero), no KL, no entropy, no weight decay: nothing may move."""
    out = run_training(recipe(tiny, pool, reward="none", kl_coef=0.0, entropy_coef=0.0, weight_decay=0.0,
                              steps=2, save_every=2), tmp_path / "run")
    before = load_model(tiny).model.state_dict()
    after = load_model(str(out / "checkpoints" / "step-2")).model.state_dict()
    assert all(torch.equal(before[name], after[name]) for name in before)


def test_entropy_bonus_alone_moves_the_weights(tiny, pool, tmp_path):
    out = run_training(recipe(tiny, pool, reward="none", kl_coef=0.0, entropy_coef=1.0, weight_decay=0.0,
                              steps=2, save_every=2), tmp_path / "run")
    before = load_model(tiny).model.state_dict()
    after = load_model(str(out / "checkpoints" / "step-2")).model.state_dict()
    assert any(not torch.equal(before[name], after[name]) for name in before)


def test_resume_continues_with_the_same_next_step(tiny, pool, tmp_path):
    full = run_training(recipe(tiny, pool, steps=2, temperature=1.0), tmp_path / "full")
    killed = run_training(recipe(tiny, pool, steps=1, temperature=1.0), tmp_path / "resumed")
    resumed = run_training(recipe(tiny, pool, steps=2, temperature=1.0), killed, resume=True)
    expected, got = read_lines(full / "metrics.jsonl"), read_lines(resumed / "metrics.jsonl")
    assert [m["step"] for m in got] == [1, 2]
    for key in ("reward_mean", "entropy", "mean_length", "tokens"):
        assert got[1][key] == pytest.approx(expected[1][key], rel=1e-5), key
    # completions.jsonl: the resumed file is the uninterrupted run's (same seed, same rollouts, no repeated step)
    assert (resumed / "completions.jsonl").read_text() == (full / "completions.jsonl").read_text()


@pytest.mark.parametrize("extra, message", [
    (["--set", "rolouts=4"], "rollouts"),
    (["--set", "rollouts=1"], "rollouts"),
    (["--examples", "99"], "99"),
    (["--set", "steps=many"], "steps"),
    (["--set", "micro_batch_size=3"], "micro_batch_size"),
    (["--algorithm", "ppo", "--set", "value_clip=-0.5"], ("value_clip is -0.5", "override")),
    (["--algorithm", "ppo", "--set", "critic_learning_rate=0"], ("critic_learning_rate is 0.0", "override")),
    (["--algorithm", "ppo", "--set", "critic_learning_rate=-1e-5"], ("critic_learning_rate is -1e-05", "override")),
    (["--set", "keep_checkpoints=-1"], "(0 = keep all)"),
    (["--set", "clip_ratio=-0.1"], ("clip_ratio is -0.1", "0 = off")),
    (["--reward", "self-certainy"], ("reward has unknown value 'self-certainy'", "self-certainty")),
    (["--report-to", "bogus"], "report_to 'bogus' is unknown"),
    # the trl: block (trl_options.py): names and types checked against GRPOConfig before any model loads
    (["--set", "trl.log_completion=true"], ("trl.log_completion is not a GRPOConfig field", "'log_completions'")),
    (["--set", "trl.beta=0"], "trl.beta is the recipe's kl_coef; set kl_coef instead"),
    (["--set", "trl.output_dir=x"], "trl.output_dir cannot be set"),
    (["--set", "trl.num_iterations=two"], "trl.num_iterations must be int"),
    (["--set", "trl.steps_per_generation=4"], "trl: a generation batch of 4 prompts"),
    # a wrong-label run with no label would train on the true one
    *[(["--wrong-label", label], f"--wrong-label {label!r} gives no label") for label in (" ", "", "null", "none", "~")],
    # the spurious and label-free rewards: rates are probabilities; majority votes within a group
    (["--reward", "random", "--set", "random_reward_rate=1.2"], ("random_reward_rate is 1.2", "from 0 to 1")),
    (["--set", "label_noise=-0.3"], ("label_noise is -0.3", "from 0 to 1")),
    (["--reward", "majority", "--set", "rollouts=1"], "rollouts is 1"),
    (["--reward", "majority", "--set", "label_noise=0.3"], "'majority' reads no gold label"),
    (["--reward", "incorrect", "--wrong-label", "7"], "wrong_label and label_noise / reward: incorrect"),
])
def test_bad_config_is_one_line_before_any_model_loads(extra, message, pool, tmp_path, capsys, monkeypatch):
    import oneshot_rlvr.models as models

    monkeypatch.setattr(models, "load_model", lambda *a, **k: pytest.fail("a model was loaded"))
    out = tmp_path / "out"
    status = main(["train", "--config", "recipes/cpu-smollm2.yaml", "--data", pool, "--examples", "1",
                   "--out", str(out), *extra])
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and all(part in err[0] for part in ((message,) if isinstance(message, str) else message)), err
    assert not out.exists()


def train_cli(pool, out, *extra) -> int:
    return main(["train", "--config", "recipes/cpu-smollm2.yaml", "--data", pool, "--examples", "1",
                 "--set", "eval_every=0", "--out", str(out), *extra])


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("oneshot-rlvr train: error: "), err
    return err[0]


@pytest.mark.parametrize("under", ["", "sub"])
def test_an_out_that_is_a_file_is_refused_first(under, pool, tmp_path, capsys, monkeypatch):
    import oneshot_rlvr.models as models

    monkeypatch.setattr(models, "load_model", lambda *a, **k: pytest.fail("a model was loaded"))
    file = tmp_path / "file.txt"
    file.write_text("keep\n")
    assert train_cli(pool, file / under if under else file) == 2
    line = one_error_line(capsys)
    assert str(file) in line and "is a file" in line and file.read_text() == "keep\n"


@pytest.mark.parametrize("extra, environment, message", [
    (["--set", "use_vllm=true"], {}, "vLLM generation needs a GPU"),
    (["--report-to", "wandb"], {}, "report_to wandb: its package is not installed"),
    ([], {"WORLD_SIZE": "2"}, "WORLD_SIZE=2 but RANK, MASTER_ADDR or MASTER_PORT is not set"),
])
def test_what_the_machine_or_launch_cannot_run_is_refused_before_any_model_loads(
        extra, environment, message, pool, tmp_path, capsys, monkeypatch):
    """TRL finds these only once the model is loaded and config.yaml written."""
    import transformers.integrations.integration_utils as integrations

    import oneshot_rlvr.models as models

    monkeypatch.setattr(models, "load_model", lambda *a, **k: pytest.fail("a model was loaded"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(integrations, "get_available_reporting_integrations", lambda: [])  # wandb not installed
    for name in ("RANK", "MASTER_ADDR", "MASTER_PORT"):  # not started by a launcher
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "out"
    assert train_cli(pool, out, *extra) == 2
    assert message in one_error_line(capsys) and not out.exists()


@pytest.mark.parametrize("model", ["nope", "file", "garbage", "no-weights"])
def test_a_model_that_does_not_load_is_one_line(model, tiny, pool, tmp_path, capsys, monkeypatch):
    import shutil

    monkeypatch.chdir(tmp_path)
    shutil.copytree(tiny, "no-weights", ignore=shutil.ignore_patterns("*.safetensors"))
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / "config.json").write_text("{not json")
    (tmp_path / "file").write_text("not a model\n")
    recipes = Path(__file__).resolve().parents[1] / "recipes"
    status = main(["train", "--config", str(recipes / "cpu-smollm2.yaml"), "--data", pool, "--examples", "1",
                   "--set", "eval_every=0", "--model", f"./{model}", "--out", "out"])
    assert status == 2
    assert f"model './{model}'" in one_error_line(capsys) and not (tmp_path / "out").exists()


def test_a_prompt_limit_error_after_the_load_is_still_the_only_line(tiny, pool, tmp_path, capsys):
    """The check needs the tokenizer: the model loads first, without its "Loading weights" progress bar."""
    out = tmp_path / "out"
    assert train_cli(pool, out, "--model", tiny, "--set", "max_prompt_tokens=1") == 2
    assert "max_prompt_tokens=1" in one_error_line(capsys) and not out.exists()


def test_entropy_only_raises_entropy(pool, tmp_path):
    """The entropy-only ablation (reward none, entropy bonus): the policy's entropy goes up."""
    from oneshot_rlvr.models import tiny_random_model

    loaded = tiny_random_model(seed=1)
    with torch.no_grad():
        loaded.model.model.embed_tokens.weight.mul_(6)  # a confident start, so entropy has room to rise
    path = tmp_path / "peaky"
    loaded.model.save_pretrained(path)
    loaded.tokenizer.save_pretrained(path)
    out = run_training(recipe(str(path), pool, reward="none", kl_coef=0.0, entropy_coef=1.0, weight_decay=0.0,
                              learning_rate=3e-2, steps=4, save_every=0, max_response_tokens=8),
                       tmp_path / "run")
    entropy = [m["entropy"] for m in read_lines(out / "metrics.jsonl")]
    assert entropy[-1] > entropy[0] * 1.05, entropy


def test_entropy_minimisation_lowers_entropy(tiny, pool, tmp_path):
    """recipes/entropy-min.yaml's mechanism (reward none, entropy_coef < 0): the policy's entropy goes down."""
    out = run_training(recipe(tiny, pool, reward="none", kl_coef=0.0, entropy_coef=-1.0, weight_decay=0.0,
                              learning_rate=3e-2, steps=4, save_every=0, max_response_tokens=8),
                       tmp_path / "run")
    entropy = [m["entropy"] for m in read_lines(out / "metrics.jsonl")]
    # measured: 5.90 -> 3.87 in 4 steps; entropy_coef +1 on this near-uniform start ends at 5.55 (0.94 ×), 0 at 5.90
    assert entropy[-1] < entropy[0] * 0.8, entropy


def test_reused_rollouts_are_clipped_unless_clipping_is_off(tiny, pool, tmp_path):
    """The clipping ablation: trl num_iterations 2 (each rollout batch trains two steps, so the ratio leaves 1) and
    a large learning rate clip some tokens on the second step; clip_ratio 0 clips none."""
    settings = dict(reward="random", steps=4, save_every=0, prompts_per_step=4, rollouts=4, micro_batch_size=16,
                    learning_rate=5e-2, kl_coef=0.0, entropy_coef=0.0, max_response_tokens=8,
                    trl={"num_iterations": 2})
    clipped = {}
    for name, clip in (("on", 0.2), ("off", 0.0)):
        metrics = read_lines(run_training(recipe(tiny, pool, clip_ratio=clip, **settings), tmp_path / name)
                             / "metrics.jsonl")
        assert [m["step"] for m in metrics] == [1, 2, 3, 4]
        clipped[name] = [(m["clip_ratio"], m["clip_low"], m["clip_high"]) for m in metrics]
    assert clipped["on"][0] == (0.0, 0.0, 0.0)  # the first pass over a batch: ratio 1
    assert any(region > 0 and region == pytest.approx(low + high) for region, low, high in clipped["on"]), clipped
    assert all(value == 0 for step in clipped["off"] for value in step), clipped


def test_two_cpu_processes_complete_two_steps(tiny, pool, tmp_path):
    """`accelerate launch` with 2 CPU processes (gloo): 2 steps, both processes' groups in history.json."""
    import os
    import socket
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    with socket.socket() as probe:  # a free port: accelerate's default 29500 may be taken
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "run"
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
               str(repo / "recipes" / "accelerate" / "cpu-2proc.yaml"), "--main_process_port", str(port),
               "-m", "oneshot_rlvr.cli", "train", "--model", tiny, "--data", pool, "--examples", "1",
               "--steps", "2", "--set", "prompts_per_step=2", "--set", "rollouts=2", "--set", "micro_batch_size=1",
               "--set", "max_response_tokens=6", "--set", "eval_every=0", "--set", "save_every=2",
               "--set", "dtype=float32", "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    # a rank that dies by a signal (SIGABRT, seen rarely here) leaves its reason above the launcher's summary
    causes = [line for line in result.stderr.splitlines() if any(
        mark in line for mark in ("terminate called", "what():", "Error", "error:"))]
    assert result.returncode == 0, "\n".join(causes[-20:]) + "\n...\n" + result.stderr[-1500:]
    assert [m["step"] for m in read_lines(out / "metrics.jsonl")] == [1, 2]
    assert len(json.loads((out / "history.json").read_text())["1"]) == 4  # 2 groups a step, from 2 processes
    assert [s["step"] for s in read_lines(out / "completions.jsonl")] == [1, 1, 2, 2]  # process 0 writes alone
    assert (out / "checkpoints" / "step-2" / "config.json").is_file()


def test_a_training_file_that_repeats_its_example_trains_on_it(tiny, tmp_path):
    row = {"id": 124, "problem": "What is 2+3?", "answer": "5"}
    repeated = tmp_path / "pi1_r4.jsonl"  # the paper's pi1_r128.parquet: one example, 128 identical rows
    repeated.write_text("".join(json.dumps(row) + "\n" for _ in range(4)))
    assert [e.id for e in training_examples(recipe(tiny, str(repeated), examples="124"))] == ["124"]
    assert len(training_examples(recipe(tiny, str(repeated), examples="all", prompts_per_step=4))) == 4
    conflicting = tmp_path / "conflict.jsonl"
    conflicting.write_text(json.dumps(row) + "\n" + json.dumps({**row, "answer": "6"}) + "\n")
    with pytest.raises(CommandError, match="duplicate id '124' with different content"):
        training_examples(recipe(tiny, str(conflicting), examples="124"))


@pytest.mark.parametrize("names, head", [(["paper6"], ()), (["gsm8k", "paper6", "math500"], ("gsm8k",))])
def test_benchmark_sets_expand_in_the_held_out_evaluation(names, head):
    """`--set eval_benchmarks=[paper6]` passed the recipe check and then failed in training (issue 18)."""
    from oneshot_rlvr.data.benchmarks import PAPER_SIX
    from oneshot_rlvr.train import _eval_config

    recipe = load_recipe(None, {"eval_benchmarks": names, "eval_every": 1})
    assert _eval_config(recipe).benchmarks == head + PAPER_SIX  # math500 once, in paper6's place
    all_names = _eval_config(load_recipe(None, {"eval_benchmarks": ["all"], "eval_every": 1})).benchmarks
    assert "all" not in all_names and len(all_names) == 10
    from_cli = load_recipe(None, {"eval_benchmarks": "[paper6]"})  # --set eval_benchmarks=[paper6], as written
    assert _eval_config(from_cli).benchmarks == PAPER_SIX


def test_a_trl_block_reaches_trl_and_trains(tiny, pool, tmp_path):
    """Issue 18's acceptance: trl: {log_completions: true, num_iterations: 2} trains 2 steps and TRL gets both."""
    from transformers import TrainerCallback

    from oneshot_rlvr.config import to_grpo_config

    path = tmp_path / "r.yaml"
    path.write_text("trl:\n  log_completions: true\n  num_iterations: 2\n")
    settings = dict(model=tiny, data=pool, examples="1", prompts_per_step=2, rollouts=2, micro_batch_size=2,
                    max_prompt_tokens=256, max_response_tokens=6, steps=2, save_every=0, eval_every=0,
                    learning_rate=1e-3, dtype="float32")
    trained = load_recipe(path, settings)
    built = to_grpo_config(trained, str(tmp_path / "o"))
    assert (built.log_completions, built.num_iterations) == (True, 2)
    seen = []

    class Spy(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            seen.append((args.log_completions, args.num_iterations, args.steps_per_generation))

    out = run_training(trained, tmp_path / "run", callbacks=[Spy()])
    assert seen == [(True, 2, 2)]  # the trainer's own GRPOConfig (2 micro-batches a step)
    metrics = read_lines(out / "metrics.jsonl")
    assert [m["step"] for m in metrics] == [1, 2]  # step 2 reuses step 1's rollouts: no reward fields
    assert "reward_mean" in metrics[0] and "reward_mean" not in metrics[1] and "loss" in metrics[1]
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["trl"] == {"log_completions": True, "num_iterations": 2}
    assert load_recipe(None, saved) == trained  # config.yaml reads back as the same recipe


def test_majority_reward_plugs_into_trl(tiny, pool, tmp_path, monkeypatch):
    """reward: majority in a real 2-step run: TRL hands it whole groups of one prompt, and its scores are the
    step's reward."""
    import oneshot_rlvr.rewards as rewards

    calls = []
    original = rewards._majority_rewards

    def spy(texts, prompts, rollouts, **options):
        scores = original(texts, prompts, rollouts, **options)
        calls.append((list(texts), list(prompts), rollouts, scores))
        return scores

    monkeypatch.setattr(rewards, "_majority_rewards", spy)
    out = run_training(recipe(tiny, pool, reward="majority", reward_mode="lenient", prompts_per_step=2, rollouts=4,
                              micro_batch_size=4, temperature=1.0, save_every=0), tmp_path / "run")
    assert len(calls) == 2
    assert any(1.0 in scores for *_, scores in calls)  # lenient votes on the random model's digits: some agree
    for texts, prompts, rollouts, scores in calls:
        assert rollouts == 4 and len(texts) == len(scores) == 8
        for start in (0, 4):
            assert len({str(p) for p in prompts[start : start + 4]}) == 1
            # recomputed per group: the same scores (groups never mix)
            group = original(texts[start : start + 4], None, 4, mode="lenient", timeout=10.0, workers=1)
            assert group == scores[start : start + 4]
    metrics = read_lines(out / "metrics.jsonl")
    assert [m["reward_mean"] for m in metrics] == pytest.approx([sum(c[3]) / 8 for c in calls])
    assert yaml.safe_load((out / "config.yaml").read_text())["reward"] == "majority"


def test_label_noise_is_recorded_beside_the_config(tiny, pool, tmp_path):
    from oneshot_rlvr.grading import grade

    settings = recipe(tiny, pool, examples="all", label_noise=1.0, steps=1, save_every=0, seed=4)
    out = run_training(settings, tmp_path / "run")
    labels = json.loads((out / "labels.json").read_text())
    assert yaml.safe_load((out / "config.yaml").read_text())["label_noise"] == 1.0
    assert labels["rate"] == 1.0 and labels["seed"] == 4 and labels["rule"] == "perturb"
    assert {key: value["gold"] for key, value in labels["flipped"].items()} == {"1": "5", "2": "16"}
    trained = {e.id: e.answer for e in training_examples(settings)}  # what the answer column held
    assert trained == {key: value["label"] for key, value in labels["flipped"].items()}
    assert not any(grade(rf"\boxed{{{trained[key]}}}", gold, mode="strict").correct
                   for key, gold in (("1", "5"), ("2", "16")))
    plain = run_training(recipe(tiny, pool, steps=1, save_every=0), tmp_path / "plain")
    assert not (plain / "labels.json").exists()  # golds kept: nothing to record


def test_an_example_without_a_provably_wrong_label_is_one_line(tmp_path, capsys, monkeypatch):
    import oneshot_rlvr.models as models

    monkeypatch.setattr(models, "load_model", lambda *a, **k: pytest.fail("a model was loaded"))
    unreadable = tmp_path / "pool.jsonl"
    unreadable.write_text(json.dumps({"id": 1, "problem": "p", "answer": "\\frac{k!}{(k+1)!"}) + "\n")
    assert train_cli(str(unreadable), tmp_path / "out", "--reward", "incorrect") == 2
    assert "no provably wrong label" in one_error_line(capsys)
    assert not (tmp_path / "out").exists()
