"""``eval``'s journal: samples are kept as they are generated, so a crash loses at most the chunk in flight.

    oneshot-rlvr eval ... --out OUT     # OUT/eval_config.json first, then OUT/journal.jsonl grows chunk by chunk
    oneshot-rlvr eval --resume OUT      # finishes OUT with the same settings and seeds

Generation runs a benchmark's problems in chunks (``chunk_problems``: about four decoding batches of rows); each
finished chunk's samples (ungraded) are appended to ``journal.jsonl``, one JSON line each, flushed and synced.
At the end every sample is graded and ``samples.jsonl`` and ``summary.json`` are written whole, as before; the
journal is then removed. ``--resume`` reads the settings from ``eval_config.json``, ignores a cut last line and
any problem with fewer samples than it needs, and generates the rest: each row's sampling seed comes from its
prompt's index in the benchmark (``seeds.derive_seed(seed, prompt, sample)``), so the samples equal an
uninterrupted run's.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from .cliutil import CommandError, json_line, write_atomically
from .jsonl import JsonlError, read_jsonl

JOURNAL, CONFIG = "journal.jsonl", "eval_config.json"
RESUME_FLAGS = ("resume", "workers")  # the rest of a resumed run's settings come from eval_config.json


def chunk_problems(samples_per_problem: int, batch_size: int) -> int:
    """Problems per chunk: about four batches of rows, so a chunk's tail costs little decoding efficiency."""
    return max(1, 4 * batch_size // samples_per_problem)


class Journal:
    """Appends samples to ``OUT/journal.jsonl``, each call's lines flushed and synced before it returns."""

    def __init__(self, out_dir: str | Path) -> None:
        self.path = Path(out_dir) / JOURNAL

    def start(self, config) -> None:
        """A new run: its settings first, then an empty journal."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(str(self.path.parent / CONFIG), [json.dumps(dataclasses.asdict(config), indent=2) + "\n"])
        write_atomically(str(self.path), [])

    def append(self, samples: list[dict]) -> None:
        with open(self.path, "a", encoding="utf-8") as stream:
            stream.writelines(json_line(sample) for sample in samples)
            stream.flush()
            os.fsync(stream.fileno())

    def finish(self) -> None:
        self.path.unlink(missing_ok=True)


def read_journal(out_dir: str | Path, config) -> list[dict]:
    """The journal's complete problems: a cut last line is dropped, and so is every sample of a problem that
    has fewer than its benchmark's samples per problem (they are generated again)."""
    path = Path(out_dir) / JOURNAL

    def damaged(bad: JsonlError) -> CommandError:
        return CommandError(f"{path}:{bad.number}: not valid JSON in the middle of the journal; remove {path.parent} "
                            f"and evaluate again")

    samples, counts = [], {}  # no newline at the end: the line being written when the run stopped, not read
    for _, sample in read_jsonl(path, blank_lines="skip", cut_last_line="drop", error=damaged):
        samples.append(sample)
        key = (sample["benchmark"], str(sample["id"]))
        counts[key] = counts.get(key, 0) + 1
    return [s for s in samples if counts[(s["benchmark"], str(s["id"]))] == config.sampling(s["benchmark"]).n]


def resumable_config(out_dir: str | Path):
    """The EvalConfig an unfinished ``OUT`` was started with; CommandError when OUT is not one."""
    from .evaluate import EvalConfig

    out = Path(out_dir)
    if not (out / JOURNAL).is_file() or not (out / CONFIG).is_file():
        done = (out / "summary.json").is_file()
        raise CommandError(f"--resume {out}: " + ("the evaluation there is complete (summary.json); nothing to resume"
                           if done else f"no unfinished evaluation there ({JOURNAL} and {CONFIG}); start one with "
                           f"--out {out}"))
    try:
        fields = json.loads((out / CONFIG).read_text(encoding="utf-8"))
        fields["benchmarks"] = tuple(fields["benchmarks"])
        return EvalConfig(**fields)
    except (ValueError, TypeError, KeyError) as error:
        raise CommandError(f"{out / CONFIG}: not the settings of an evaluation ({error}); remove {out} and "
                           f"evaluate again") from None


def check_resume_flags(args) -> None:
    """--resume takes its settings from the run: a flag that would change them is bad input."""
    from .evaluate import refuse_flags_without_effect

    refuse_flags_without_effect(args, RESUME_FLAGS, "--resume", f"which finishes the run with the settings it was "
                                f"started with ({CONFIG})", "only --workers goes with --resume")
