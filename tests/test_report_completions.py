"""The report's "What the model writes" section, from a train run's completions.jsonl."""

import json

from oneshot_rlvr.report_completions import completions_section, describe

TEXTS = ["Let me recheck: 2 + 2 = 4, so \\boxed{4}",
         "```python\nprint(2 + 2)\n```\nThe answer is 4",
         "four"]


def test_describe_by_hand():
    d = describe(TEXTS)
    assert d["n"] == 3 and d["median_words"] == 9 and d["max_words"] == 10  # 10, 9 and 1 words
    assert (d["boxed"], d["code_style"], d["reflection"]) == (1 / 3, 1 / 3, 1 / 3)


def test_section_shows_first_and_last_step(tmp_path):
    rows = [{"step": 1, "id": "a", "completion": "four", "reward": 0.0},
            {"step": 2, "id": "a", "completion": TEXTS[0], "reward": 1.0},
            {"step": 3, "id": "a", "completion": TEXTS[1], "reward": 1.0},
            {"step": 3, "id": "a", "completion": "`x` \\boxed{4}", "reward": 1.0}]
    (tmp_path / "completions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    lines = completions_section(tmp_path)
    assert "| 1 | 1 | 1 | 1 | 0% | 0% | 0% |" in lines
    assert "| 3 | 2 | 5.5 | 9 | 50% | 50% | 0% |" in lines
    assert not any(line.startswith("| 2 |") for line in lines)
    assert lines[-2].startswith("A completion at step 3: `'''python print(2 + 2)")


def test_no_file_no_section(tmp_path):
    assert completions_section(tmp_path) == []
