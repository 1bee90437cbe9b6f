"""The demo's orchestration on a miniature toy world: every stage, the manifest, the budget, bad input."""

import json
from pathlib import Path

import pytest

pytest.importorskip("trl")

from oneshot_rlvr.cli import main  # noqa: E402
from oneshot_rlvr.config import load_recipe  # noqa: E402
from oneshot_rlvr.demo import CONTROLS, TOY_RECIPE, DemoScale, run_demo  # noqa: E402
from oneshot_rlvr.toy.corpus import CorpusKnobs  # noqa: E402
from oneshot_rlvr.toy.model import ToyModelSpec  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
KNOBS = CorpusKnobs(documents=300, seed=0)
SPEC = ToyModelSpec(hidden_size=32, layers=1, heads=2, intermediate_size=64, steps=4, batch_size=16)
SCALE = DemoScale(one_shot_steps=2, pool_steps=3, held_out_per_level=1, pool_per_family=2,
                  recipe={"eval_every": 1, "max_response_tokens": 12, "eval_max_tokens": 12, "rollouts": 2,
                          "prompts_per_step": 2, "micro_batch_size": 4})


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ONESHOT_RLVR_CACHE", str(tmp_path / "cache"))


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_demo_runs_every_stage_and_reports(tmp_path, cache):
    out = tmp_path / "demo"
    report = run_demo(out, budget_minutes=30, seed=0, scale=SCALE, knobs=KNOBS, spec=SPEC)
    manifest = json.loads((out / "demo.json").read_text())
    assert manifest["complete"] and manifest["skipped"] == []
    assert [r["name"] for r in manifest["runs"]] == ["pool", "pi1"] + [name for name, *_ in CONTROLS]
    pool_ids = [row["id"] for row in lines(out / "world" / "pool.jsonl")]
    history = json.loads((out / "pool" / "history.json").read_text())
    pi1 = manifest["selection"]["pi1"]
    assert pi1["id"] in pool_ids and pi1["id"] == manifest["selection"]["top"][0]["id"]
    assert set(history) <= set(pool_ids)
    for run in manifest["runs"][1:]:
        folder = out / run["dir"]
        assert [m["step"] for m in lines(folder / "metrics.jsonl")] == [1, 2]
        evals = lines(folder / "eval.jsonl")
        assert [e["step"] for e in evals] == [0, 1, 2]
        assert set(evals[0]["benchmarks"]) == set(manifest["categories"])
    assert "reward: format" in (out / "format-only" / "config.yaml").read_text()
    random_example = next(r for r in manifest["runs"] if r["name"] == "random-example")
    assert random_example["examples"] != pi1["id"]
    assert report == out / "report.md" and pi1["id"] in report.read_text()
    assert all((out / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
               for name in ("training_curve.png", "categories.png", "runs_heldout.png"))
    assert (out / "base" / "config.json").is_file() and manifest["base"]["parameters"] > 0


def test_controls_that_do_not_fit_the_budget_are_skipped_and_named(tmp_path, cache):
    out = tmp_path / "demo"
    run_demo(out, budget_minutes=0.05, seed=0, scale=SCALE, knobs=KNOBS, spec=SPEC)
    manifest = json.loads((out / "demo.json").read_text())
    assert manifest["complete"]
    assert {s["name"] for s in manifest["skipped"]} == {name for name, *_ in CONTROLS}
    assert all("budget" in s["why"] for s in manifest["skipped"])
    assert (out / "report.md").is_file()


def test_the_toy_recipe_file_holds_the_demo_recipe():
    recipe = load_recipe(REPO / "recipes" / "toy-1shot.yaml")
    for key, value in TOY_RECIPE.items():
        assert getattr(recipe, key) == value, key


@pytest.mark.parametrize("argv, message", [
    (["--budget-minutes", "0"], "--budget-minutes must be a positive number"),
    (["--budget-minutes", "nan"], "--budget-minutes must be a positive number"),
    (["--budget-minutes", "inf"], "--budget-minutes must be a positive number"),
    (["--steps", "0"], "--steps must be at least 1"),
    (["--seed", "-1"], "--seed must be between 0 and 4294967295"),
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
