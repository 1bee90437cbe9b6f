"""Synthetic run folders as `oneshot-rlvr train` and `demo` write them, for the runlogs, findings and report tests.

``write_demo`` writes a format-2 demo (docs/demo-manifest.md: each role once per seed, gates, plan, rules);
``write_old_demo`` a format-1 demo as the demo wrote them before (one run per role, no seed)."""

import json

CATEGORIES = ["addsub", "mul", "chain", "compare", "word"]
N = 200
RISING = [min(1.0, step / 8) for step in range(1, 21)]  # 5-step moving average first reaches 0.9 at step 10


def held_out(step, lenient, reflection=0.02, boxed=0.5):
    """An eval.jsonl line; ``lenient`` is one rate for every category or a rate per category."""
    rates = lenient if isinstance(lenient, dict) else dict.fromkeys(CATEGORIES, lenient)
    return {"step": step, "seconds": 1.5, "benchmarks": {
        name: {"n": N, "strict": round(rate - 0.05, 3), "lenient": rate, "boxed_rate": boxed,
               "reflection_rate": reflection, "mean_length": 80.0} for name, rate in rates.items()}}


def write_run(folder, train_accuracy, evaluations, reward="outcome"):
    folder.mkdir(parents=True)
    folder.joinpath("config.yaml").write_text(f"model: toy\nreward: {reward}\nexamples: mul-17\nsteps: 20\n")
    folder.joinpath("metrics.jsonl").write_text("".join(
        json.dumps({"step": step, "train_accuracy": accuracy, "entropy": 1.0 - step / 40, "mean_length": 60 + step})
        + "\n" for step, accuracy in enumerate(train_accuracy, start=1)))
    folder.joinpath("eval.jsonl").write_text("".join(json.dumps(e) + "\n" for e in evaluations))
    folder.joinpath("history.json").write_text(json.dumps({"mul-17": train_accuracy}))


def write_old_demo(root, generalizes=True, skip_full_set=False):
    """A format-1 demo where 1-shot generalizes (or, with ``generalizes`` False, where nothing but the controls
    moves)."""
    if generalizes:
        final = {"addsub": 0.50, "mul": 0.55, "chain": 0.40, "compare": 0.42, "word": 0.38}  # pooled 0.45
        one_shot = [held_out(0, 0.30), held_out(5, 0.35), held_out(10, 0.38, 0.05), held_out(15, 0.42, 0.08),
                    held_out(20, final, 0.10, boxed=0.9)]
        controls = {"format-only": 0.31, "full-set": 0.46, "random-reward": 0.30}
    else:
        one_shot = [held_out(step, 0.30 if step == 0 else 0.31) for step in (0, 5, 10, 15, 20)]
        controls = {"format-only": 0.31, "full-set": 0.46, "random-reward": 0.44}
    write_run(root / "pi1", RISING, one_shot)
    write_run(root / "pool", [0.4] * 20, [held_out(0, 0.30), held_out(20, 0.33)])
    for name, rate in controls.items():
        if skip_full_set and name == "full-set":
            (root / name).mkdir()  # started, killed before its first log line
        else:
            write_run(root / name, [0.5] * 20, [held_out(0, 0.30), held_out(20, rate)])
    runs = [("pool", "pool", "outcome"), ("pi1", "one-shot", "outcome"), ("full-set", "full-set", "outcome"),
            ("format-only", "format-only", "format"), ("entropy-only", "entropy-only", "none"),
            ("random-reward", "random-reward", "random")]
    manifest = {
        "seed": 0, "budget_minutes": 15, "seconds": {"pretrain": 180.2, "pool": 60.1},
        "base": {"dir": "base", "parameters": 3400000, "corpus": {"digits": 3}}, "categories": CATEGORIES,
        "selection": {"method": "var", "pool_run": "pool", "top": [{"id": "mul-17", "score": 0.11, "category": "mul"}],
                      "pi1": {"id": "mul-17", "problem": "What is 16 * 23.5?", "answer": "376", "category": "mul"}},
        "runs": [{"name": name, "label": "1-shot π1" if role == "one-shot" else name, "dir": name, "role": role,
                  "reward": reward, "examples": "mul-17", "example_category": "mul"} for name, role, reward in runs],
        "skipped": [{"name": "entropy-only", "why": "budget"}], "complete": True}
    root.joinpath("demo.json").write_text(json.dumps(manifest))
    return root


SEEDS = (0, 1, 2)
OFFSETS = {0: 0.0, 1: -0.02, 2: 0.02}  # each seed's held-out accuracy lies this far from seed 0's
GATE_ROW = {"n": 30, "k": 8, "greedy": 0.3, "sampled": 0.28, "pass@8": 0.6, "strict_greedy": 0.2,
            "boxed_greedy": 0.5, "skill_greedy": 0.0, "skill_sampled": 0.2, "with_skill": 0.8, "without_skill": 0.3,
            "within_problem_n": 12, "forced": 0.6, "forced_minus_greedy": 0.3}


def one_shot_evaluations(offset=0.0, generalizes=True):
    if not generalizes:
        return [held_out(step, 0.30 if step == 0 else 0.31) for step in (0, 5, 10, 15, 20)]
    final = {"addsub": 0.50, "mul": 0.55, "chain": 0.40, "compare": 0.42, "word": 0.38}  # pooled 0.45
    return [held_out(0, 0.30), held_out(5, round(0.35 + offset, 3)), held_out(10, round(0.38 + offset, 3), 0.05),
            held_out(15, round(0.42 + offset, 3), 0.08),
            held_out(20, {k: round(v + offset, 3) for k, v in final.items()}, 0.10, boxed=0.9)]


def write_demo(root, generalizes=True, skip_full_set=False, seeds=SEEDS):
    """A format-2 demo over ``seeds``: 1-shot generalizes on every seed (or, with ``generalizes`` False, nothing
    but the controls moves). Seed 2's training accuracy saturates a step later (step 11). The pool run is the
    full-set run (seed 0); random-example runs once with the first seed; entropy-only is planned, never run."""
    controls = ({"format-only": 0.31, "random-reward": 0.30} if generalizes
                else {"format-only": 0.31, "random-reward": 0.44})
    if skip_full_set:
        (root / "pool").mkdir(parents=True)  # started, killed before its first log line
    else:
        write_run(root / "pool", [0.4] * 20, [held_out(0, 0.30), held_out(20, 0.46)])
    runs = [{"name": "pool", "label": "full-set RLVR on the pool", "dir": "pool", "role": "full-set",
             "reward": "outcome", "examples": "all", "example_category": None, "seed": seeds[0], "steps": 20}]
    for seed in seeds:
        offset = OFFSETS.get(seed, 0.0)
        train = RISING if seed != 2 else [0.0] + RISING[:-1]
        write_run(root / f"pi1-s{seed}", train, one_shot_evaluations(offset, generalizes))
        runs.append(demo_run(f"pi1-s{seed}", "one-shot", "outcome", seed, "1-shot RLVR on π1"))
        for role, rate in controls.items():
            write_run(root / f"{role}-s{seed}", [0.5] * 20, [held_out(0, 0.30), held_out(20, round(rate + offset, 3))])
            runs.append(demo_run(f"{role}-s{seed}", role, {"format-only": "format", "random-reward": "random"}[role],
                                 seed))
    write_run(root / "random-example", [0.5] * 20, [held_out(0, 0.30), held_out(20, 0.33)])
    runs.append(demo_run("random-example", "random-example", "outcome", seeds[0], examples="word-3"))
    manifest = {
        "format": 2, "world": "latent-skill", "seed": 0, "budget_minutes": 15, "estimate_seconds": 600,
        "complete": True, "seconds": {"base": 1.2, "gates": 40.1, "pool": 60.1, "total": 660.0},
        "base": {"dir": "base", "source": "shipped", "sha256": {"model.safetensors": "ab12cd34ef56" * 5 + "abcd"},
                 "parameters": 1580000, "corpus": {"recheck": 0.2, "boxed": 0.5}, "spec": {"layers": 2}},
        "categories": CATEGORIES,
        "gates": {"settings": {"samples": 8, "temperature": 0.6, "max_tokens": 256, "seed": 0, "batch_size": 64},
                  "families": {name: GATE_ROW for name in CATEGORIES}, "all": {**GATE_ROW, "n": 150},
                  "targets": [{"target": "skill_greedy ≤ 0.02 (pooled)", "value": 0.0, "met": True},
                              {"target": "forced_minus_greedy > 0 (every family)",
                               "values": dict.fromkeys(CATEGORIES, 0.3), "met": True}], "met": True},
        "plan": {"seeds": list(seeds), "steps": 20, "pool_steps": 20, "eval_every": 5, "held_out_n": 1000,
                 "roles": ["one-shot", "format-only", "random-reward"], "extras": ["entropy-only", "random-example"],
                 "quick": False},
        "rules": {key: f"rule {key} as demo.json states it." for key in "abcdefg"},
        "selection": {
            "method": "var", "pool_run": "pool",
            "top": [{"id": "mul-17", "score": 0.11, "category": "mul", "history": [0.25, 0.5, 1.0]},
                    {"id": "word-3", "score": 0.09, "category": "word", "history": [0.0, 0.5]}],
            "pi1": {"id": "mul-17", "problem": "What is 16 * 23.5?", "answer": "376", "category": "mul",
                    "with_skill": 0.9, "without_skill": 0.05, "skill_share": 0.2, "samples": 16},
            "by_gap": {"id": "word-3", "problem": "Tom has 3 apples…", "answer": "5", "category": "word",
                       "with_skill": 1.0, "without_skill": 0.0, "skill_share": 0.25, "samples": 16, "var_rank": 2},
            "pool_examples": {"mul-17": {"with_skill": 0.9, "without_skill": 0.05, "skill_share": 0.2, "samples": 16},
                              "word-3": {"with_skill": 1.0, "without_skill": 0.0, "skill_share": 0.25, "samples": 16}}},
        "runs": runs, "skipped": []}
    write_manifest(root, manifest)
    return root


def demo_run(name, role, reward, seed, label=None, examples="mul-17"):
    return {"name": name, "label": label or name, "dir": name, "role": role, "reward": reward, "examples": examples,
            "example_category": "mul", "seed": seed, "steps": 20}


def read_manifest(root):
    return json.loads((root / "demo.json").read_text())


def write_manifest(root, manifest):
    (root / "demo.json").write_text(json.dumps(manifest))


def rewrite_run(folder, train_accuracy, evaluations):
    """Replace a run folder's logs (a scenario that flips one seed)."""
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    write_run(folder, train_accuracy, evaluations)
