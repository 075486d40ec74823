"""Analysis throughput: `yuqing analyze` end to end vs `SnowNLP(text).sentiments`, on one core.

Both run in one child process pinned to CPU 0 (`os.sched_setaffinity`), over the same posts,
interleaved run by run, after a warm-up of both (jieba's and SnowNLP's dictionaries loaded).
"Ours" is exactly the CLI's path: `analyze_records` over JSONL lines with the process tokenizer and
the shipped model (the one analysis, `analyze_posts`, 512 posts a batch), each output record serialised
with `json.dumps`.
Separately: the real CLI (`python -m app analyze`) in a fresh pinned process for wall time and
peak RSS (VmHWM read by the process itself just before it exits), and the model load time in
fresh processes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import REPO, Figure, Section, Target, load_corpus

POSTS = 5000
QUICK_POSTS = 500

_CHILD = """
import json, os, sys, time
os.sched_setaffinity(0, {0})
from bench.bench_analyze import measure_in_child
print(json.dumps(measure_in_child(json.loads(sys.stdin.read()))))
"""

_CLI = """
import os, re, sys
os.sched_setaffinity(0, {0})
sys.argv = ["yuqing", "analyze", "--input", sys.argv[1], "--output", sys.argv[2]]
from app.cli import main
try:
    main()
finally:
    status = open("/proc/self/status").read()
    sys.stderr.write("VMHWM_KB=" + re.search(r"VmHWM:\\s+(\\d+)", status).group(1) + "\\n")
"""

_LOAD = """
import json, os, time
os.sched_setaffinity(0, {0})
t = time.perf_counter(); from analysis.sentiment import SentimentModel; imported = time.perf_counter() - t
t = time.perf_counter(); model = SentimentModel.load(); loaded = time.perf_counter() - t
from analysis.tokenize import default_tokenizer
sample = "今天的客服态度太差了"
t = time.perf_counter(); model.predict(sample, default_tokenizer().tokens(sample))
first = time.perf_counter() - t
print(json.dumps({"import": imported, "load": loaded, "first": first}))
"""


def measure_in_child(job: dict[str, Any]) -> dict[str, Any]:
    """Runs inside the pinned child: warm up, then alternate ours / SnowNLP `runs` times."""
    from snownlp import SnowNLP

    from analysis.analyze import analyze_records
    from analysis.sentiment import SentimentModel
    from analysis.tokenize import default_tokenizer

    texts: list[str] = job["texts"]
    lines = [json.dumps({"id": i, "text": t}, ensure_ascii=False) for i, t in enumerate(texts)]
    model = SentimentModel.load()
    tokenizer = default_tokenizer()

    def ours(batch: list[str]) -> int:
        errors = 0
        for record in analyze_records(batch, tokenizer=tokenizer, model=model):
            json.dumps(record, ensure_ascii=False)
            errors += "error" in record
        return errors

    def snow(batch: list[str]) -> None:
        for text in batch:
            SnowNLP(text).sentiments  # noqa: B018 - the call is the work being timed

    ours(lines[:200])
    snow(texts[:200])
    rates: dict[str, list[float]] = {"ours": [], "snownlp": []}
    errors = 0
    for _ in range(job["runs"]):
        started = time.perf_counter()
        errors = ours(lines)
        rates["ours"].append(len(lines) / (time.perf_counter() - started))
        started = time.perf_counter()
        snow(texts)
        rates["snownlp"].append(len(texts) / (time.perf_counter() - started))
    return {**rates, "errors": errors, "affinity": sorted(__import__("os").sched_getaffinity(0))}


def _cli_run(texts: list[str], workdir: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of `python -m app analyze` on the posts, pinned to CPU 0."""
    source, sink = workdir / "posts.jsonl", workdir / "out.jsonl"
    source.write_text(
        "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8"
    )
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _CLI, str(source), str(sink)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"yuqing analyze failed: {done.stderr[-2000:]}")
    peak_kb = int(done.stderr.rsplit("VMHWM_KB=", 1)[1].split()[0])
    lines = sink.read_text(encoding="utf-8").count("\n")
    if lines != len(texts):
        raise RuntimeError(f"yuqing analyze wrote {lines} lines for {len(texts)} posts")
    return wall, peak_kb / 1024


def _child(script: str, stdin: str = "", timeout: float = 1200) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", script], input=stdin, cwd=REPO, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"benchmark child failed: {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(quick: bool) -> Section:
    """Measure analysis throughput against SnowNLP, the CLI's peak RSS and the model load time."""
    count = QUICK_POSTS if quick else POSTS
    runs = 2 if quick else 3
    corpus = load_corpus(limit=count)
    texts = corpus.texts[:count]
    section = Section("analyze", "1. Analysis: `yuqing analyze` vs SnowNLP, one core")
    chars = sum(len(t) for t in texts) / len(texts)
    section.intro = (
        f"Posts: {len(texts):,} texts, mean {chars:.0f} characters — "
        + (
            "a fixed random sample (seed 11) of " + corpus.origin
            if corpus.real
            else f"**no ../shared data: {corpus.origin}**"
        )
        + ". Both sides run in one child process pinned to CPU 0 with `os.sched_setaffinity(0, {0})`, "
        "warmed up on 200 posts, then alternated run by run. *Ours* is the CLI's code path "
        "(`analyze_records` → `analyze_posts` per 512 posts: normalise, segment, sentiment, "
        "keywords, "
        "simhash, plus `json.dumps` of each output record); *SnowNLP* is `SnowNLP(text).sentiments` per post."
    )
    result = _child(_CHILD, json.dumps({"texts": texts, "runs": runs}))
    ours, snow = result["ours"], result["snownlp"]
    ratios = [a / b for a, b in zip(ours, snow, strict=True)]
    section.add(Figure("ours: analyze_records, posts/s", ours, "posts/s"))
    section.add(Figure("SnowNLP(text).sentiments, posts/s", snow, "posts/s"))
    section.add(Figure("speed ratio ours / SnowNLP (per run)", ratios, "×", Target(">=", 15), digits=1))
    with tempfile.TemporaryDirectory(prefix="yq-bench-analyze-") as workdir:
        cli = [_cli_run(texts, Path(workdir)) for _ in range(runs)]
    section.add(
        Figure(
            f"`python -m app analyze` on {len(texts):,} posts, wall time incl. start-up",
            [wall for wall, _ in cli],
            "s",
            digits=2,
        )
    )
    section.add(
        Figure(
            "`yuqing analyze` end-to-end posts/s incl. start-up",
            [len(texts) / wall for wall, _ in cli],
            "posts/s",
        )
    )
    section.add(
        Figure(
            "peak RSS of the `yuqing analyze` process (VmHWM)",
            [rss for _, rss in cli],
            "MiB",
            Target("<", 400),
        )
    )
    loads = [_child(_LOAD) for _ in range(runs)]
    section.add(Figure("`import analysis.sentiment`", [x["import"] for x in loads], "s", digits=2))
    section.add(Figure("`SentimentModel.load()`", [x["load"] for x in loads], "s", digits=2))
    section.add(
        Figure("first tokenize + predict (jieba dictionary load)", [x["first"] for x in loads], "s", digits=2)
    )
    section.notes.append(
        f"Records with an `error` field in the last run: {result['errors']}. The child's CPU affinity was "
        f"{result['affinity']}. The other core and the machine are shared with other work, so absolute rates "
        "move with the load; the ratio is taken per run, both sides measured back to back."
    )
    return section
