"""``oneshot-rlvr demo --suite spurious``: the plan (every reward once per seed, the default demo untouched), its
table and chart on synthetic run folders, and one short suite end to end on a miniature toy world."""

import argparse
import json
import re

import pytest

pytest.importorskip("matplotlib")

import oneshot_rlvr.demo as demo_module  # noqa: E402
from oneshot_rlvr.cli import main  # noqa: E402
from oneshot_rlvr.config import TrainRecipe  # noqa: E402
from oneshot_rlvr.demo_plan import QUICK_STEPS, TOY_RECIPE, DemoPlan, estimate_seconds, planned_jobs  # noqa: E402
from oneshot_rlvr.demo_suite import CHART, SUITE_RULE, SUITES, SuitePlan  # noqa: E402
from oneshot_rlvr.findings import RULES  # noqa: E402
from oneshot_rlvr.report import build_report  # noqa: E402
from oneshot_rlvr.rewards import REWARD_KINDS  # noqa: E402
from run_folders import SEEDS, demo_run, held_out, read_manifest, write_demo, write_manifest, write_run  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
COMMON = {"model": "base", "data": "world/pool.jsonl", "eval_data_dir": "world/benchmarks",
          "eval_benchmarks": ["addsub", "mul"]}


def test_the_suite_runs_every_reward_once_per_seed_with_the_same_seeds():
    plan = SuitePlan(seeds=(4, 5, 6))
    runs = plan.runs()
    roles = SUITES["spurious"]
    assert len(runs) == len(roles) * 3 and len({name for name, _, _ in runs}) == len(runs)
    for seed in (4, 5, 6):
        assert [role for _, role, s in runs if s == seed] == list(roles)
    jobs = planned_jobs(plan, COMMON, "mul-pool-2-4", "word-pool-3-9")
    recipes = {role: job.recipe for job, (_, role, _) in zip(jobs, runs) if job.recipe["seed"] == 4}
    assert {r["reward"] for r in recipes.values()} == set(REWARD_KINDS)  # every reward the project has
    assert all(r["examples"] == "mul-pool-2-4" and r["steps"] == TOY_RECIPE["steps"] for r in recipes.values())
    assert recipes["entropy-min"]["entropy_coef"] < 0 < recipes["entropy-only"]["entropy_coef"]
    assert recipes["entropy-min"]["reward"] == recipes["entropy-only"]["reward"] == "none"
    assert recipes["entropy-min"]["kl_coef"] == 0 and recipes["majority"]["reward_mode"] == "lenient"
    for role, recipe in recipes.items():  # apart from the role's own fields, the toy recipe
        changed = {k for k, v in TOY_RECIPE.items() if recipe[k] != v}
        assert changed <= {"entropy_coef", "kl_coef"}, role
        TrainRecipe(**recipe)  # a valid recipe for `oneshot-rlvr train`
    manifest = plan.to_dict()
    assert manifest["suite"] == "spurious" and manifest["roles"] == list(roles) and manifest["extras"] == []
    assert plan.rules() == {**RULES, "suite": SUITE_RULE}


def test_the_default_demo_plan_is_unchanged_by_the_suite():
    plan = DemoPlan()
    assert "suite" not in plan.to_dict() and plan.rules() == RULES
    jobs = planned_jobs(plan, COMMON, "pi1", "other")
    assert [job.name for job in jobs] == [name for name, _, _ in plan.runs()]
    for job, (_, _, seed) in zip(jobs, plan.runs()):
        assert list(job.recipe) == [*TOY_RECIPE, *COMMON, "examples", "reward", "seed"]  # the recipe files' order
        assert {k: job.recipe[k] for k in TOY_RECIPE} == TOY_RECIPE and job.recipe["seed"] == seed
    assert [job.recipe["reward"] for job in jobs[:3]] == ["outcome", "format", "random"]


def _parsed(argv):
    parser = argparse.ArgumentParser()
    demo_module.add_arguments(parser)
    return demo_module.plan_from_args(parser.parse_args(argv))


def test_suite_and_quick_flags_make_the_plan_and_the_estimate_covers_it():
    full, quick = _parsed(["--suite", "spurious"]), _parsed(["--suite", "spurious", "--quick"])
    assert isinstance(full, SuitePlan) and full.seeds == (0, 1, 2) and full.steps == TOY_RECIPE["steps"]
    assert quick.quick and quick.steps == QUICK_STEPS and quick.seeds == full.seeds and quick.runs() == full.runs()
    assert type(_parsed([])) is DemoPlan and _parsed([]) == DemoPlan()
    assert estimate_seconds(full, 2, 1.0) > estimate_seconds(DemoPlan(), 2, 1.0)  # 24 runs against 11
    assert estimate_seconds(quick, 2, 1.0) < estimate_seconds(full, 2, 1.0)


def test_an_unknown_suite_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["demo", "--suite", "labels", "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'labels'" in err and not (tmp_path / "d").exists()
    with pytest.raises(ValueError, match="unknown suite"):
        SuitePlan(suite="labels")


# --- the table and the chart, from synthetic run folders ---------------------------------------------------

FINALS = {"incorrect": [0.31, 0.29, 0.30], "majority": [0.45, 0.44, 0.47], "self-certainty": [0.36, 0.38, 0.34],
          "entropy-min": [0.20, 0.22, 0.18], "entropy-only": [0.31, 0.30, 0.32]}  # by seed 0, 1, 2; step 0: 0.30
REWARDS = {"incorrect": "incorrect", "majority": "majority", "self-certainty": "self-certainty",
           "entropy-min": "none", "entropy-only": "none"}


def write_suite(root):
    """``write_demo``'s demo (1-shot, format-only, random-reward on every seed) as a suite, with the other rewards'
    runs: majority and self-certainty rise on every seed, incorrect and the entropy bonus stay, EM falls."""
    write_demo(root)
    manifest = read_manifest(root)
    for role, finals in FINALS.items():
        for seed, final in zip(SEEDS, finals):
            write_run(root / f"{role}-s{seed}", [0.5] * 20, [held_out(0, 0.30), held_out(20, final)], REWARDS[role])
            manifest["runs"].append(demo_run(f"{role}-s{seed}", role, REWARDS[role], seed))
    manifest["runs"] = [r for r in manifest["runs"] if r["role"] != "random-example"]
    manifest["plan"].update(suite="spurious", roles=list(SUITES["spurious"]), extras=[])
    manifest["rules"]["suite"] = "the suite's rule as demo.json states it."
    write_manifest(root, manifest)
    return root


def suite_table(text):
    """{reward: its row's cells} of the suite's table."""
    head = text.index("## Suite `spurious`")
    rows = [line for line in text[head:].split("\n## ")[0].splitlines() if line.startswith("| ")][1:]
    return {cells[0]: cells for cells in ([c.strip() for c in row.strip("|").split(" | ")] for row in rows)}


def test_the_suite_table_and_chart_come_from_the_runs(tmp_path):
    root = write_suite(tmp_path / "demo")
    text = build_report(root).read_text()
    rows = suite_table(text)
    assert list(rows) == ["base (step 0)", "outcome", "format", "random", "incorrect", "majority", "self-certainty",
                          "entropy-min", "entropy-bonus"]
    assert "the suite's rule as demo.json states it" in text  # the rule written before the runs
    majority = rows["majority"]
    assert majority[1:6] == ["majority", "0, 1, 2", "45.3% (44.0%–47.0%)", "40.3% (39.0%–42.0%)",
                             "s0 +15.0, s1 +14.0, s2 +17.0"]
    assert majority[6] == "1000" and majority[7].startswith("lifts (pooled over 3 seeds")
    assert rows["outcome"][7].startswith("lifts") and rows["self-certainty"][7].startswith("lifts")
    for name in ("incorrect", "entropy-min", "entropy-bonus", "format", "random"):
        assert rows[name][7].startswith("does not lift"), name
    assert rows["entropy-min"][3] == "20.0% (18.0%–22.0%)"
    assert rows["base (step 0)"][2:5] == ["24 runs", "30.0% on every seed", "25.0% on every seed"]
    assert f"![suite heldout](plots/{CHART})" in text
    assert (root / "plots" / CHART).read_bytes()[:8] == PNG_SIGNATURE


def test_a_missing_seed_is_named_and_a_demo_without_a_suite_has_no_suite_table(tmp_path):
    root = write_suite(tmp_path / "demo")
    for path in (root / "majority-s2").iterdir():
        path.unlink()
    row = suite_table(build_report(root).read_text())["majority"]
    assert row[2] == "0, 1" and "majority-s2" in row[7] and re.search(r"pooled over 2 seeds", row[7])
    plain = write_demo(tmp_path / "plain")
    text = build_report(plain).read_text()
    assert "## Suite" not in text and not (plain / "plots" / CHART).exists()


# --- end to end: a short suite on a miniature world --------------------------------------------------------

@pytest.mark.slow
def test_a_quick_suite_writes_its_table_and_chart(tmp_path, monkeypatch):
    pytest.importorskip("trl")
    from test_demo import TINY_WORLD

    monkeypatch.setenv("ONESHOT_RLVR_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(demo_module, "POOL_SAMPLES", 4)
    plan = SuitePlan(seeds=(0, 1), steps=2, pool_steps=2, held_out_per_level=1, pool_per_family=2, quick=True,
                     recipe={"eval_every": 2, "max_response_tokens": 12, "eval_max_tokens": 12, "rollouts": 2,
                             "prompts_per_step": 2, "micro_batch_size": 4})
    out = tmp_path / "suite"
    report = demo_module.run_demo(out, plan, seed=0, budget_minutes=60, rebuild_base=True, world=TINY_WORLD)
    manifest = json.loads((out / "demo.json").read_text())
    assert manifest["plan"]["suite"] == "spurious" and manifest["rules"]["suite"] == SUITE_RULE
    assert [r["name"] for r in manifest["runs"][1:]] == [name for name, _, _ in plan.runs()]
    pi1 = manifest["selection"]["pi1"]["id"]
    for run in manifest["runs"][1:]:
        config = (out / run["dir"] / "config.yaml").read_text()
        assert f"examples: {pi1}" in config and f"reward: {run['reward']}" in config
    assert "entropy_coef: -1.0" in (out / "entropy-min-s1" / "config.yaml").read_text()
    rows = suite_table(report.read_text())
    assert len(rows) == 9 and all(cells[2] == "0, 1" for name, cells in rows.items() if name != "base (step 0)")
    assert (out / "plots" / CHART).read_bytes()[:8] == PNG_SIGNATURE
