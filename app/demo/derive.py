"""Derive the bundled demo sample from the public corpora in ../shared/data/sentiment.

Run from the repository root (only needed to rebuild the file; nothing reads ../shared at run time):
    .venv/bin/python -m app.demo.derive ../shared/data/sentiment app/demo/data/sample.jsonl.gz

Selection is deterministic (fixed seed, sorted input): Weibo texts of 8–120 characters without
links, @-mentions, hashtag markup, critical terms, crime/politics words or broken emoji,
de-duplicated; quotas per corpus and label for the everyday `baseline` pool, and short
angry/disgusted texts (no epidemic topics) for the `burst` pool that the demo turns into
complaints about the fictional brand.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import sys
from collections.abc import Iterator
from pathlib import Path

SEED = 20261123
CORPORA = {
    "smp2020": "smp2020_ewect_train.jsonl",
    "weibo2018": "weibo2018_train.jsonl",
    "nlpcc2013": "nlpcc2013_emotion_train.jsonl",
}
BASELINE_QUOTAS = {
    ("smp2020", "positive"): 420,
    ("smp2020", "neutral"): 420,
    ("smp2020", "negative"): 360,
    ("weibo2018", "positive"): 300,
    ("weibo2018", "negative"): 250,
    ("nlpcc2013", "positive"): 250,
    ("nlpcc2013", "neutral"): 300,
    ("nlpcc2013", "negative"): 200,
}
BURST_QUOTAS = {("smp2020", "angry"): 320, ("nlpcc2013", "anger"): 100, ("nlpcc2013", "disgust"): 80}
EXCLUDED = re.compile(r"http|www\.|@|#|\{%|%\}|死亡|爆炸|泄露|召回|中毒|维权|起火|坍塌|猝死|诈骗|车|刹")
EPIDEMIC = re.compile(r"疫情|病毒|肺炎|口罩|武汉|确诊|隔离|防控|新冠")
SENSITIVE = re.compile(
    r"吸毒|涉毒|毒品|警方|逮捕|被捕|出轨|强奸|杀|尸|判刑|嫖|色情|恐怖|政府|政治|共产|党|主席|总理|台独|港独|法轮|\?\?"
)


def _rows(folder: Path, corpus: str) -> Iterator[dict[str, str]]:
    with (folder / CORPORA[corpus]).open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            text = " ".join(row["text"].replace("\u200b", "").split())
            if 8 <= len(text) <= 120 and not EXCLUDED.search(text) and not SENSITIVE.search(text):
                yield {"text": text, "label": row["label"], "orig": row["orig_label"], "corpus": corpus}


def _pick(rows: list[dict[str, str]], count: int, rng: random.Random) -> list[dict[str, str]]:
    rows = sorted(rows, key=lambda row: row["text"])
    rng.shuffle(rows)
    return rows[:count]


def derive(folder: Path) -> list[dict[str, str]]:
    """The sample rows (text, label, corpus, pool) in a stable order."""
    rng = random.Random(SEED)
    by_corpus = {corpus: list(_rows(folder, corpus)) for corpus in CORPORA}
    chosen: list[dict[str, str]] = []
    seen: set[str] = set()
    for (corpus, orig), count in BURST_QUOTAS.items():
        pool = [
            r
            for r in by_corpus[corpus]
            if r["orig"] == orig
            and len(r["text"]) <= 60
            and not EPIDEMIC.search(r["text"])
            and r["text"] not in seen
        ]
        for row in _pick(pool, count, rng):
            seen.add(row["text"])
            chosen.append({"text": row["text"], "label": row["label"], "corpus": corpus, "pool": "burst"})
    for (corpus, label), count in BASELINE_QUOTAS.items():
        pool = [r for r in by_corpus[corpus] if r["label"] == label and r["text"] not in seen]
        for row in _pick(pool, count, rng):
            seen.add(row["text"])
            chosen.append({"text": row["text"], "label": label, "corpus": corpus, "pool": "baseline"})
    return chosen


def write(rows: list[dict[str, str]], target: Path) -> None:
    """Write rows as gzip-compressed JSONL with a fixed timestamp (byte-for-byte reproducible)."""
    payload = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
    with target.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as handle:
        handle.write(payload)


def main(argv: list[str] | None = None) -> None:
    """`python -m app.demo.derive SHARED_SENTIMENT_DIR OUTPUT`."""
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 2:
        raise SystemExit("usage: python -m app.demo.derive SHARED_SENTIMENT_DIR OUTPUT.jsonl.gz")
    rows = derive(Path(args[0]))
    write(rows, Path(args[1]))
    print(f"wrote {len(rows)} texts to {args[1]}")


if __name__ == "__main__":
    main()
