"""Stage 3: evaluate a model on benchmarks with the training reward's grader.

    oneshot-rlvr eval --model smollm2-135m --benchmarks gsm8k,svamp --data-dir ../shared/data/benchmarks \\
        --limit 20 --out runs/eval
    oneshot-rlvr eval --model PATH --benchmarks paper6 --protocol paper --backend vllm --out runs/eval
    oneshot-rlvr eval --regrade runs/eval        # re-grade saved samples, no generation (evalregrade.py)
    oneshot-rlvr eval ... --grader qwen25-math   # grade with the paper's evaluator instead (grading/graders.py)

Settings: ``EvalConfig`` (evalconfig.py, with the paper's protocol). A sample's ``correct`` is the lenient
verdict (the Qwen evaluator's extraction, as the paper reports); ``strict_correct`` needs a ``\\boxed{}``
answer: the gap between the two is format, not reasoning. ``--grader`` picks who decides (grading/graders.py).
Files under ``--out``: ``samples.jsonl`` (one line per sample: benchmark, id, sample, prompt, response,
gold, extracted, correct, reason, strict_correct, boxed, length, finish_reason, meta) and
``summary.json`` (docs/evaluation.md); both written whole or not at all.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

from . import metrics
from .cliutil import (CommandError, check_output_dir, json_line, library_errors, lock_output_dir, positive_int,
                      seed_int, write_atomically)
from .data.benchmarks import PAPER_SIX, BenchmarkError, Problem, load_benchmark
from .data.prompts import get_template, render_prompt, uses_chat_template
from .evaljournal import JOURNAL, Journal, chunk_problems, read_journal
from .evalconfig import (BACKENDS, EVAL_DTYPES, PAPER_MAX_TOKENS, PAPER_SAMPLED, EvalConfig,  # noqa: F401
                         parse_benchmarks)
from .generation import BackendError
from .grading import has_boxed
from .grading.cli import add_grader_argument
from .grading.graders import DEFAULT_GRADER, grade_both
from .settings import help_text

HELP = "evaluate a model on math benchmarks (samples.jsonl, summary.json, a table)"


def load_problems(config: EvalConfig) -> dict[str, list[Problem]]:
    """Each benchmark's problems (the first ``limit``); an empty benchmark is an error."""
    problems = {}
    for name in config.benchmarks:
        rows = load_benchmark(name, config.data_dir)[: config.limit]
        if not rows:
            raise BenchmarkError(f"{name}: no problems to evaluate (empty file, or --limit 0)")
        problems[name] = rows
    return problems


# --- grading and metrics ----------------------------------------------------------------------------

def grade_samples(samples: list[dict], workers: int = 2, grader: str = DEFAULT_GRADER) -> list[dict]:
    """Fill each sample's verdict fields (lenient ``correct`` / ``extracted`` / ``reason``, strict, boxed) with
    ``grader``, one benchmark at a time (qwen25-math keeps units on minerva_math)."""
    by_benchmark: dict[str, list[int]] = defaultdict(list)
    for index, sample in enumerate(samples):
        by_benchmark[sample["benchmark"]].append(index)
    graded = list(samples)
    for benchmark, indices in by_benchmark.items():
        pairs = [(samples[i]["response"], samples[i]["gold"]) for i in indices]
        lenient, strict = grade_both(grader, pairs, workers=workers, benchmark=benchmark)
        for i, v, sv in zip(indices, lenient, strict):
            graded[i] = {**samples[i], "extracted": v.extracted, "correct": v.correct, "reason": v.reason,
                         "strict_correct": sv.correct, "boxed": has_boxed(samples[i]["response"])}
    return graded


def _share(flags: list[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


def benchmark_summary(samples: list[dict]) -> dict:
    """Metrics of one benchmark's graded samples.

    Keys: n (problems), k (samples each), avg@k, pass@k {"1": ..}, pass@1, maj@k, strict, lenient,
    lenient_ci95 (Wilson, over problems when k = 1, else over samples), boxed_rate, truncated_rate,
    mean_length (tokens), reflection_rate, reflection_counts; by_subject / by_level / by_category when rows carry them.
    """
    by_problem: dict[str, list[dict]] = defaultdict(list)
    for sample in samples:
        by_problem[sample["id"]].append(sample)
    groups = [sorted(g, key=lambda s: s["sample"]) for g in by_problem.values()]
    k = min(len(g) for g in groups)
    correct = [[s["correct"] for s in g] for g in groups]
    answers = [[s["extracted"] for s in g] for g in groups]
    responses = [s["response"] for s in samples]
    successes = sum(c for row in correct for c in row)
    summary = {
        "n": len(groups), "k": k,
        "avg@k": metrics.avg_at_k(correct),
        "pass@k": {str(j): metrics.mean_pass_at_k([(len(c), sum(c)) for c in correct], j) for j in range(1, k + 1)},
        "maj@k": metrics.majority_at_k(answers, correct),
        "strict": _share([s["strict_correct"] for s in samples]),
        "lenient": _share([s["correct"] for s in samples]),
        "lenient_ci95": list(metrics.wilson_interval(successes, len(samples))) if k > 1 else
        list(metrics.wilson_interval(sum(c[0] for c in correct), len(groups))),
        "boxed_rate": _share([s["boxed"] for s in samples]),
        "truncated_rate": _share([s["finish_reason"] == "length" for s in samples]),
        "mean_length": sum(s["length"] for s in samples) / len(samples),
        "reflection_rate": metrics.reflection_rate(responses),
        "reflection_counts": metrics.reflection_counts(responses),
    }
    summary["pass@1"] = summary["pass@k"]["1"]
    for key in ("subject", "level", "category"):
        if any(key in s.get("meta", {}) for s in samples):
            split: dict[str, list[bool]] = defaultdict(list)
            for s in samples:
                split[str(s.get("meta", {}).get(key))].append(s["correct"])
            summary[f"by_{key}"] = {name: {"samples": len(v), "lenient": _share(v)} for name, v in sorted(split.items())}
    return summary


def build_summary(samples: list[dict], config: dict, extra: dict | None = None) -> dict:
    """``{"model", "config", "benchmarks": {name: benchmark_summary}, "paper6_mean", ...extra}``."""
    by_benchmark: dict[str, list[dict]] = defaultdict(list)
    for sample in samples:
        by_benchmark[sample["benchmark"]].append(sample)
    benchmarks = {name: benchmark_summary(rows) for name, rows in by_benchmark.items()}
    paper6 = [benchmarks[n]["avg@k"] for n in PAPER_SIX if n in benchmarks]
    return {"model": config.get("model"), "config": config, "benchmarks": benchmarks,
            "paper6_mean": sum(paper6) / len(paper6) if len(paper6) == len(PAPER_SIX) else None, **(extra or {})}


def markdown_table(summary: dict) -> str:
    lines = ["| benchmark | n | k | avg@k | pass@k | maj@k | strict | lenient | boxed | length | reflect |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, b in summary["benchmarks"].items():
        lines.append(f"| {name} | {b['n']} | {b['k']} | {b['avg@k']:.1%} | {b['pass@k'][str(b['k'])]:.1%} | "
                     f"{b['maj@k']:.1%} | {b['strict']:.1%} | {b['lenient']:.1%} | {b['boxed_rate']:.1%} | "
                     f"{b['mean_length']:.0f} | {b['reflection_rate']:.1%} |")
    if summary.get("paper6_mean") is not None:
        lines.append(f"\nmean avg@k over the paper's six: {summary['paper6_mean']:.1%}")
    if summary.get("grader"):
        lines.append(f"\ngraded with {summary['grader']}")
    return "\n".join(lines)


# --- running ----------------------------------------------------------------------------------------

def make_backend(config: EvalConfig):
    """The generation backend for ``config`` (loads the model)."""
    from .models import EMBEDDED_MODELS, ensure_embedded, load_model

    if config.backend == "vllm":
        from .generation import VLLMBackend

        path = str(ensure_embedded(config.model)) if config.model in EMBEDDED_MODELS else config.model
        return VLLMBackend(path, dtype=config.dtype, seed=config.seed)
    from .generation import HFBackend

    loaded = load_model(config.model, device=config.device, dtype=config.dtype)
    return HFBackend(loaded.model, loaded.tokenizer, batch_size=config.batch_size)


def _progress_bar(total: int):
    try:
        from tqdm.auto import tqdm
    except ImportError:  # a plain counter on stderr
        return None
    return tqdm(total=total, unit="sample", desc="generating", file=sys.stderr, dynamic_ncols=True)


def generate_samples(config: EvalConfig, problems: dict[str, list[Problem]], backend, *, done: list[dict] = (),
                     journal=None) -> tuple[list[dict], dict]:
    """Generate every benchmark's samples (ungraded); also returns timing {seconds, tokens, tokens_per_second}.

    ``done``: samples generated before (a resumed run's journal): their problems are skipped. ``journal``: gets
    each chunk's new samples as soon as they exist (``evaljournal``); without one a benchmark is one chunk."""
    tokenizer = getattr(backend, "tokenizer", None)
    template = get_template(config.template)
    finished = {(s["benchmark"], str(s["id"])) for s in done}
    total = sum(len(rows) * config.sampling(name).n for name, rows in problems.items())
    bar = _progress_bar(total)
    if bar and done:
        bar.update(len(done))
    generated, tokens, start = list(done), 0, time.monotonic()
    for name, rows in problems.items():
        params = config.sampling(name)
        todo = [index for index, problem in enumerate(rows) if (name, str(problem.id)) not in finished]
        size = chunk_problems(params.n, config.batch_size) if journal else max(1, len(todo))
        for first in range(0, len(todo), size):
            part = todo[first:first + size]
            prompts = [render_prompt(tokenizer, template, rows[i].question) for i in part]
            completions = backend.generate(prompts, params, add_special_tokens=not uses_chat_template(tokenizer, template),
                                           progress=bar.update if bar else None, prompt_indices=part)
            new = [{"benchmark": name, "id": rows[i].id, "sample": index, "prompt": prompt, "response": out.text,
                    "gold": rows[i].answer, "length": out.num_tokens, "finish_reason": out.finish_reason,
                    "meta": rows[i].meta} for i, prompt, outs in zip(part, prompts, completions)
                   for index, out in enumerate(outs)]
            tokens += sum(sample["length"] for sample in new)
            generated += new
            if journal:
                journal.append(new)
    if bar:
        bar.close()
    seconds = time.monotonic() - start
    order = {(name, str(p.id)): (b, i) for b, (name, rows) in enumerate(problems.items()) for i, p in enumerate(rows)}
    generated.sort(key=lambda s: (*order[(s["benchmark"], str(s["id"]))], s["sample"]))  # as if run at once
    return generated, {"generation_seconds": seconds, "generated_tokens": tokens,
                       "tokens_per_second": tokens / seconds if seconds else 0.0}


def load_problems_or_fail_fast(config: EvalConfig) -> dict[str, list[Problem]]:
    """``load_problems``; from the Hub, only the HF cache is tried when the Hub cannot be reached (no retries)."""
    if config.data_dir is not None:
        return load_problems(config)
    from .data.hub import hub_or_cache

    with hub_or_cache(BenchmarkError):
        return load_problems(config)


def run_eval(config: EvalConfig, out_dir: str | Path, backend=None,
             problems: dict[str, list[Problem]] | None = None, resume: bool = False) -> dict:
    """Evaluate ``config`` and write samples.jsonl + summary.json under ``out_dir``; returns the summary.
    Generated samples go to a journal first (``evaljournal``); ``resume`` continues an unfinished ``out_dir``."""
    problems = problems if problems is not None else load_problems(config)
    backend = backend or make_backend(config)
    journal = Journal(out_dir)
    done = read_journal(out_dir, config) if resume else []
    if not resume:
        journal.start(config)
    samples, timing = generate_samples(config, problems, backend, done=done, journal=journal)
    samples = grade_samples(samples, config.workers, config.grader)
    timing = {**timing, "resumed_samples": len(done)} if resume else timing
    summary = build_summary(samples, asdict(config), {**timing, "grader": config.grader})
    write_run(out_dir, samples, summary)
    journal.finish()
    return summary


def write_run(out_dir: str | Path, samples: list[dict], summary: dict) -> None:
    os.makedirs(out_dir, exist_ok=True)
    write_atomically(os.path.join(out_dir, "samples.jsonl"), [json_line(s) for s in samples])
    write_atomically(os.path.join(out_dir, "summary.json"), [json.dumps(summary, indent=2) + "\n"])


# --- command line -----------------------------------------------------------------------------------

def _number(text: str, allowed: str, ok) -> float:
    """An argparse type: a finite float for which ``ok(value)`` holds (nan and inf would pass ``<`` checks)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not ok(value):
        raise argparse.ArgumentTypeError(f"must be a number {allowed}, got {text!r}")
    return value


def temperature(text: str) -> float:
    return _number(text, "≥ 0 (0 = greedy)", lambda value: value >= 0)


def top_p(text: str) -> float:
    return _number(text, "in (0, 1]", lambda value: 0 < value <= 1)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags; a setting's help (and default) is its EvalConfig field's metadata."""
    def setting_help(name: str) -> str:
        return help_text(EvalConfig, name)

    from .data.prompts import TEMPLATES

    parser.add_argument("--model", default="smollm2-135m", help=setting_help("model"))
    parser.add_argument("--benchmarks", default="math500", help=setting_help("benchmarks"))
    parser.add_argument("--data-dir", help=setting_help("data_dir"))
    parser.add_argument("--template", default="qwen25-math-cot", choices=list(TEMPLATES), help=setting_help("template"))
    parser.add_argument("--backend", default="hf", choices=list(BACKENDS), help=setting_help("backend"))
    parser.add_argument("--protocol", choices=["paper"], help=setting_help("protocol"))
    parser.add_argument("--n-samples", type=positive_int, help=setting_help("n_samples"))
    parser.add_argument("--temperature", type=temperature, help=setting_help("temperature"))
    parser.add_argument("--top-p", type=top_p, default=1.0, help=setting_help("top_p"))
    parser.add_argument("--max-tokens", type=positive_int, help=setting_help("max_tokens"))
    parser.add_argument("--seed", type=seed_int, default=0, help=setting_help("seed"))
    parser.add_argument("--limit", type=positive_int, help=setting_help("limit"))
    parser.add_argument("--batch-size", type=positive_int, default=32, help=setting_help("batch_size"))
    parser.add_argument("--device", default="auto", help=setting_help("device"))
    parser.add_argument("--dtype", default="auto", choices=list(EVAL_DTYPES), help=setting_help("dtype"))
    parser.add_argument("--workers", type=positive_int, default=2, help=setting_help("workers"))
    parser.add_argument("--out", help="output folder (samples.jsonl, summary.json); required unless --regrade or "
                        "--resume")
    parser.add_argument("--regrade", metavar="DIR", help="re-grade DIR/samples.jsonl without generating")
    parser.add_argument("--resume", metavar="DIR", help="finish the unfinished evaluation in DIR (its journal), "
                        "with the settings and seeds it was started with")
    add_grader_argument(parser, None, "; with --regrade DIR: default the grader DIR was graded with")
    parser.add_argument("--compare-graders", action="store_true",
                        help="with --regrade DIR: grade DIR's samples with every grader and write "
                             "DIR/grader_parity.md and .json (accuracy per grader, every sample they disagree on); "
                             "DIR's own files are left as they are")


def refuse_flags_without_effect(args: argparse.Namespace, keep: tuple[str, ...], mode: str, why: str,
                                allowed: str) -> None:
    """CommandError naming every flag outside ``keep`` given a non-default value: with ``mode`` it does nothing."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    given = [f"--{key.replace('_', '-')}" for key, default in vars(parser.parse_args([])).items()
             if key not in keep and getattr(args, key, default) != default]
    if given:
        one = len(given) == 1
        raise CommandError(f"{', '.join(given)} {'has' if one else 'have'} no effect with {mode}, {why}; drop "
                           f"{'it' if one else 'them'} ({allowed})")


def check_out_dir(out: str) -> None:
    """Fail before any model is loaded when ``out`` cannot become the output folder."""
    check_output_dir(out)
    for name in ("samples.jsonl", "summary.json"):
        path = Path(out) / name
        if path.exists() and not path.is_file():
            raise CommandError(f"--out {out}: {name} there is not a regular file, and it would be replaced; "
                               f"remove it or choose another --out")
    if (Path(out) / JOURNAL).exists():
        raise CommandError(f"--out {out}: an unfinished evaluation is there ({JOURNAL}); finish it with --resume {out}, "
                           f"or remove the folder or choose another --out")


def config_from_args(args: argparse.Namespace) -> EvalConfig:
    """Check the flags (bad input → CommandError before any model is loaded)."""
    with library_errors(ValueError):
        benchmarks = parse_benchmarks(args.benchmarks, args.data_dir)
    if args.data_dir is not None and not Path(args.data_dir).is_dir():
        raise CommandError(f"--data-dir {args.data_dir}: no such folder; give a folder laid out as NAME/test.jsonl")
    if not args.out:
        raise CommandError("--out DIR is required (where samples.jsonl and summary.json go)")
    check_out_dir(args.out)
    with library_errors(ValueError):  # e.g. an empty --model: the setting's limits
        config = EvalConfig(model=args.model, benchmarks=benchmarks, data_dir=args.data_dir, template=args.template,
                            backend=args.backend, protocol=args.protocol, n_samples=args.n_samples,
                            temperature=args.temperature, top_p=args.top_p, max_tokens=args.max_tokens,
                            seed=args.seed, limit=args.limit, batch_size=args.batch_size, device=args.device,
                            dtype=args.dtype, workers=args.workers, grader=args.grader or DEFAULT_GRADER)
        for name in benchmarks:
            config.sampling(name)
    return config


def run(args: argparse.Namespace) -> int:
    lock_output_dir(args.regrade or args.resume or args.out, create=not (args.regrade or args.resume))
    if args.regrade or args.compare_graders:
        from .evalregrade import run_regrade

        return run_regrade(args)
    if args.resume:
        from .evaljournal import check_resume_flags, resumable_config

        check_resume_flags(args)
        config, args.out = dataclasses.replace(resumable_config(args.resume), workers=args.workers), args.resume
    else:
        config = config_from_args(args)
    with library_errors(BenchmarkError, BackendError, ValueError):  # ModelError is a ValueError
        problems = load_problems_or_fail_fast(config)
        backend = make_backend(config)
    summary = run_eval(config, args.out, backend=backend, problems=problems, resume=bool(args.resume))
    print(markdown_table(summary))
    print(f"\n{summary['generated_tokens']} tokens in {summary['generation_seconds']:.1f} s "
          f"({summary['tokens_per_second']:.1f} tokens/s); files in {args.out}", file=sys.stderr)
    return 0
