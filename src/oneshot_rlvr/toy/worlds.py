"""The toy worlds: each a corpus design and a base model shape, named, so a run says which it used.

| world | first pass (the default route) | the skill (" Recheck:", 30 % of solutions) | boxed | base |
|---|---|---|---|---|
| ``latent-skill`` (default) | an estimate: numbers rounded to one significant digit | the exact computation in columns | 40 % | 1.59M, 3,000 steps |
| ``no-skill`` (contrast) | each operation at once, 15 % of lines slipped | the same direct pass again, slipping as often | 50 % | 1.06M, 1,000 steps |

In ``latent-skill`` the skill is the only reliable route to the answer; greedy decoding never takes it and
sampling sometimes does: RLVR has a latent capability to elicit (the paper's explanation). In ``no-skill``
the recheck is a habit that cannot pay, so only the format can improve — the regime of the "spurious
rewards" follow-ups (why its recheck repeats the first pass: ``docs/toy-world.md``). Each shipped base's
measured gates are in its ``base.json``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .corpus import CorpusKnobs
from .model import ToyModelSpec


@dataclass(frozen=True)
class World:
    """A toy world: its ``name``, the pretraining corpus's ``knobs`` and the base model's ``spec``."""

    name: str
    summary: str
    knobs: CorpusKnobs
    spec: ToyModelSpec

    def to_dict(self) -> dict:
        return {"name": self.name, "summary": self.summary, "knobs": self.knobs.to_dict(),
                "spec": self.spec.__dict__.copy()}


WORLDS: dict[str, World] = {world.name: world for world in (
    World("latent-skill", "the default route is a rounded estimate; the exact column computation (Recheck) is a "
          "minority route the base already knows, and far more accurate",
          CorpusKnobs(documents=150_000, route="estimate", slip_rate=0.0, recheck_rate=0.3, boxed_rate=0.4),
          ToyModelSpec(hidden_size=128, layers=6, heads=4, intermediate_size=512, steps=3000, batch_size=32,
                       learning_rate=3e-3)),
    World("no-skill", "the default route computes each operation at once with slips; the recheck repeats it and "
          "slips as often, so it cannot make the base more accurate: only the answer format can improve",
          CorpusKnobs(recheck_style="repeat"), ToyModelSpec()),
)}
DEFAULT_WORLD = "latent-skill"


def get_world(name: str) -> World:
    if name not in WORLDS:
        raise ValueError(f"unknown toy world {name!r}; choose one of {', '.join(WORLDS)}")
    return WORLDS[name]
