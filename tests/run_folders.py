"""Synthetic run folders as `oneshot-rlvr train` and `demo` write them, for the runlogs, findings and report tests."""

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


def write_demo(root, generalizes=True, skip_full_set=False):
    """A demo where 1-shot generalizes (or, with ``generalizes`` False, where nothing but the controls moves)."""
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
