"""Seeds: the range every run seed must fit, and the seeds derived from it for rows, steps and processes.

A run seed seeds numpy (through TRL and the toy corpus), whose range is 0 .. 2**32 − 1. Derived seeds hash
their parts with SHA-256, so they do not depend on the order in which rows or steps are drawn, and take
63 bits, which ``torch.Generator.manual_seed`` accepts.
"""

from __future__ import annotations

import hashlib

SEED_LIMIT = 2**32  # numpy's seed range, which TRL seeds, is 0 .. SEED_LIMIT − 1


def seed_problem(seed) -> str | None:
    """Why ``seed`` is not a run seed ("must be between 0 and 4294967295"), or None when it is one."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_LIMIT:
        return f"must be between 0 and {SEED_LIMIT - 1}"
    return None


def derive_seed(*parts) -> int:
    """A 63-bit seed for the place named by ``parts``, e.g. ``derive_seed(seed, prompt_index, sample_index)``."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") & 0x7FFF_FFFF_FFFF_FFFF
