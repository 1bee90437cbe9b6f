"""The demo's orchestration on a miniature toy world: every stage, the manifest (plan and rules before the
runs), runs over seeds, the budget deciding only whether to start, and bad input."""

import json
from pathlib import Path

import pytest

pytest.importorskip("trl")

import oneshot_rlvr.demo as demo_module  # noqa: E402
from oneshot_rlvr.cli import main  # noqa: E402
from oneshot_rlvr.config import load_recipe  # noqa: E402
from oneshot_rlvr.demo import choose_examples, run_demo  # noqa: E402
from oneshot_rlvr.demo_plan import EXTRA_ROLES, SEEDED_ROLES, TOY_RECIPE, DemoPlan, estimate_seconds  # noqa: E402
from oneshot_rlvr.findings import RULES  # noqa: E402
from oneshot_rlvr.toy.corpus import CorpusKnobs  # noqa: E402
from oneshot_rlvr.toy.model import ToyModelSpec  # noqa: E402
from oneshot_rlvr.toy.worlds import World  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TINY_WORLD = World("tiny", "a test world", CorpusKnobs(documents=300, route="estimate", slip_rate=0.0, seed=0),
                   ToyModelSpec(hidden_size=32, layers=1, heads=2, intermediate_size=64, steps=4, batch_size=16))
PLAN = DemoPlan(seeds=(0, 1), steps=2, pool_steps=3, held_out_per_level=1, pool_per_family=2, extras=("entropy-only",),
                recipe={"eval_every": 1, "max_response_tokens": 12, "eval_max_tokens": 12, "rollouts": 2,
                        "prompts_per_step": 2, "micro_batch_size": 4})


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ONESHOT_RLVR_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(demo_module, "POOL_SAMPLES", 4)


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_demo_runs_every_stage_over_seeds_and_reports(tmp_path, cache):
    out = tmp_path / "demo"
    report = run_demo(out, PLAN, seed=0, budget_minutes=60, rebuild_base=True, world=TINY_WORLD)
    manifest = json.loads((out / "demo.json").read_text())
    assert manifest["complete"] and manifest["format"] == 2 and manifest["world"] == "tiny"
    assert manifest["plan"]["seeds"] == [0, 1] and manifest["rules"] == RULES and manifest["estimate_seconds"] > 0
    assert manifest["base"]["source"] == "rebuilt" and "model.safetensors" in manifest["base"]["sha256"]
    assert manifest["gates"]["all"]["n"] == 15 and set(manifest["gates"]["families"]) == set(manifest["categories"])
    expected = ["pool"] + [f"{'pi1' if role == 'one-shot' else role}-s{seed}" for seed in (0, 1)
                           for role in SEEDED_ROLES] + ["entropy-only-s0"]
    assert [r["name"] for r in manifest["runs"]] == expected
    pi1 = manifest["selection"]["pi1"]
    pool_ids = [row["id"] for row in lines(out / "world" / "pool.jsonl")]
    assert pi1["id"] in pool_ids and pi1["id"] == manifest["selection"]["top"][0]["id"]
    assert set(manifest["selection"]["pool_examples"]) == set(pool_ids)
    for run in manifest["runs"][1:]:
        folder = out / run["dir"]
        assert [m["step"] for m in lines(folder / "metrics.jsonl")] == [1, 2]
        assert [e["step"] for e in lines(folder / "eval.jsonl")] == [0, 1, 2]
        config = (folder / "config.yaml").read_text()
        assert f"seed: {run['seed']}" in config and f"examples: {pi1['id']}" in config
        assert f"reward: {run['reward']}" in config
    first = {name: lines(out / f"{name}-s0" / "metrics.jsonl") for name in ("pi1", "format-only")}
    assert first["pi1"] != lines(out / "pi1-s1" / "metrics.jsonl")  # another seed, other rollouts
    assert report == out / "report.md" and pi1["id"] in report.read_text()
    assert "gates" in report.read_text().lower()
    assert all((out / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
               for name in ("training_curve.png", "categories.png", "runs_heldout.png"))


def test_a_plan_over_the_budget_is_refused_before_anything_is_written(tmp_path, cache, monkeypatch):
    monkeypatch.setattr(demo_module, "load_base", lambda world, rebuild, say: (tmp_path, {}, "shipped"))
    monkeypatch.setattr(demo_module, "speed_probe", lambda folder: 1.0)
    out = tmp_path / "demo"
    with pytest.raises(demo_module.CommandError, match=r"the plan needs about \d+ min .* pass --quick"):
        run_demo(out, DemoPlan(), budget_minutes=1)
    assert not out.exists()


def test_the_estimate_follows_the_plan_and_the_machine():
    plan = DemoPlan()
    assert estimate_seconds(plan, 2, 2.0) == pytest.approx(2 * estimate_seconds(plan, 2, 1.0))
    assert estimate_seconds(plan, 1, 1.0) > estimate_seconds(plan, 2, 1.0)
    assert estimate_seconds(DemoPlan(steps=40, pool_steps=40, extras=()), 2, 1.0) < estimate_seconds(plan, 2, 1.0)


def test_the_plan_runs_each_core_role_once_per_seed_and_the_extras_once():
    runs = DemoPlan(seeds=(4, 5, 6)).runs()
    assert [r for r in runs if r[1] == "one-shot"] == [("pi1-s4", "one-shot", 4), ("pi1-s5", "one-shot", 5),
                                                        ("pi1-s6", "one-shot", 6)]
    assert sorted(role for _, role, _ in runs) == sorted(list(SEEDED_ROLES) * 3 + list(EXTRA_ROLES))
    assert {seed for _, role, seed in runs if role in EXTRA_ROLES} == {4}
    with pytest.raises(ValueError, match="unknown extra"):
        DemoPlan(extras=("full-set",))


class _Problem:
    def __init__(self, id, family="addsub"):
        self.id, self.family, self.question, self.answer = id, family, f"q{id}", 1


def test_selection_names_pi1_and_the_example_the_skill_helps_most():
    history = {"a": [0.0, 1.0, 0.0, 1.0], "b": [0.5, 0.5], "c": [0.0, 0.5, 1.0]}
    stats = {"a": {"with_skill": 0.5, "without_skill": 0.5}, "b": {"with_skill": 1.0, "without_skill": 0.0},
             "c": {"with_skill": None, "without_skill": 0.2}}
    selection = choose_examples(history, [_Problem("a"), _Problem("b"), _Problem("c")], stats)
    assert selection["pi1"]["id"] == "a" and selection["pi1"]["gap"] == 0.0 and selection["pi1"]["var_rank"] == 1
    assert selection["by_gap"]["id"] == "b" and selection["by_gap"]["gap"] == 1.0
    assert selection["by_gap"]["var_rank"] == 3
    assert [t["id"] for t in selection["top"]] == ["a", "c", "b"]


def test_the_toy_recipe_file_holds_the_demo_recipe():
    recipe = load_recipe(REPO / "recipes" / "toy-1shot.yaml")
    for key, value in TOY_RECIPE.items():
        assert getattr(recipe, key) == value, key


@pytest.mark.parametrize("argv, message", [
    (["--budget-minutes", "0"], "argument --budget-minutes: must be a positive number"),
    (["--budget-minutes", "nan"], "argument --budget-minutes: must be a positive number"),
    (["--budget-minutes", "inf"], "argument --budget-minutes: must be a positive number"),
    (["--steps", "0"], "--steps: must be at least 1"),
    (["--seeds", "0"], "--seeds: must be at least 1"),
    (["--jobs", "0"], "--jobs: must be at least 1"),
    (["--seed", "-1"], "argument --seed: must be between 0 and 4294967295"),
    (["--seed", "4294967295", "--seeds", "3"], "passes 2^32 − 1"),
    (["--world", "flat"], "invalid choice: 'flat'"),
])
def test_bad_demo_flags_exit_2(tmp_path, capsys, argv, message):
    assert main(["demo", "--out", str(tmp_path / "d"), *argv]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "d").exists()


def test_an_out_folder_with_other_files_is_refused(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["demo", "--out", str(tmp_path)]) == 2
    assert "holds other files" in capsys.readouterr().err


def test_an_out_folder_that_cannot_be_made_is_refused_at_once(tmp_path, capsys):
    (tmp_path / "file.txt").write_text("x")
    assert main(["demo", "--out", str(tmp_path / "file.txt" / "sub")]) == 2
    assert "file.txt is a file, so the folder cannot be made" in capsys.readouterr().err


def _numbers_only(report: str) -> str:
    """report.md without its wall-time lines (the only lines that may differ between two runs)."""
    return "\n".join(line for line in report.splitlines() if not line.startswith(("- time:", "- wall time")))


@pytest.mark.slow
def test_same_seed_same_report_with_the_shipped_base(tmp_path):
    """Two demos of the same seed and plan on this machine: identical numbers in report.md and demo.json, and
    byte-identical plots (a reduced plan with the shipped base: about 3 min on the 2-core CPU)."""
    plan = DemoPlan(seeds=(0, 1), steps=12, pool_steps=12, extras=("random-example",), held_out_per_level=4,
                    recipe={"eval_every": 6})
    first, second = tmp_path / "first", tmp_path / "second"
    for out in (first, second):
        run_demo(out, plan, seed=0, budget_minutes=60)
    assert _numbers_only((first / "report.md").read_text()) == _numbers_only((second / "report.md").read_text())
    manifests = [json.loads((out / "demo.json").read_text()) for out in (first, second)]
    for manifest in manifests:
        manifest.pop("seconds"), manifest.pop("estimate_seconds")
        manifest["plan"]["recipe"].pop("model", None)
    assert json.dumps(manifests[0]).replace(str(first), "") == json.dumps(manifests[1]).replace(str(second), "")
    for plot in (first / "plots").iterdir():
        assert plot.read_bytes() == (second / "plots" / plot.name).read_bytes(), plot.name


def test_a_failed_run_is_one_line_and_exit_1(tmp_path, capsys, monkeypatch):
    def failing(*args, **kwargs):
        raise demo_module.JobFailed("pi1-s0: training exited with status 1; see runs/demo/logs/pi1-s0.log")

    monkeypatch.setattr(demo_module, "run_demo", failing)
    assert main(["demo", "--out", str(tmp_path / "d")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pi1-s0: training exited with status 1; see" in err
