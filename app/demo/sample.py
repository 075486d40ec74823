"""The bundled sample of real Weibo texts (see data/PROVENANCE.md)."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

SAMPLE_FILE = Path(__file__).resolve().parent / "data" / "sample.jsonl.gz"


@dataclass(frozen=True)
class SampleText:
    """One corpus text: its corpus label, the corpus and the pool it was chosen for."""

    text: str
    label: str
    corpus: str
    pool: str


@lru_cache(maxsize=1)
def load_sample(path: Path = SAMPLE_FILE) -> tuple[SampleText, ...]:
    """Every text of the sample, in file order."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return tuple(SampleText(**json.loads(line)) for line in handle if line.strip())


def pool(name: str) -> list[SampleText]:
    """The texts of one pool (`baseline` or `burst`)."""
    return [item for item in load_sample() if item.pool == name]
