"""File import (JSONL, CSV and Excel .xlsx) through the same validation and pipeline as push.

JSONL lines may also be browser captures (Zeeschuimer's NDJSON for 抖音, 小红书, 微博): each is mapped
to a post by collectors/zeeschuimer.py (author, engagement, time), and a line without a usable post is
rejected with its reason.

Chinese data as it comes: text files in UTF-8 (with or without BOM), UTF-16 with BOM, or GB18030/GBK
(what Excel on Chinese Windows writes) are recognised; a file that is none of them is refused whole
with a clear message, never stored as mojibake. `published_at` may be ISO 8601, epoch seconds, or a
common Chinese form (2026/12/03 15:21, 2026年12月3日 15:21, 12-03 15:21 with the year inferred);
times without an offset are read in `YUQING_TIMEZONE` (default Asia/Shanghai). Every row whose time
had to be read that way is listed in the report's `adjusted`, with what was assumed.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException
from rich.progress import Progress

from app.pipeline import Pipeline
from app.posts.schemas import AdjustedPost, RejectedPost
from collectors.charset import BOMS, detect_charset
from collectors.values import parse_count, parse_flag, parse_time_detail
from collectors.zeeschuimer import CaptureError, is_capture, map_capture

_ENGAGEMENT_PREFIX = "engagement."
# Table headers for the author's account and reach (the push field names work too).
AUTHOR_COLUMNS = {
    "author_id": "author_id",
    "作者id": "author_id",
    "作者ID": "author_id",
    "用户id": "author_id",
    "用户ID": "author_id",
    "followers": "author_followers",
    "author_followers": "author_followers",
    "粉丝数": "author_followers",
    "粉丝": "author_followers",
    "verified": "author_verified",
    "author_verified": "author_verified",
    "认证": "author_verified",
    "是否认证": "author_verified",
}
CHINESE_CODECS = frozenset({"gb18030", "gbk", "gb2312"})  # GB18030 reads all three


@dataclass
class ImportReport:
    """Totals of an import; `index` is the 1-based line (JSONL) or row (CSV and .xlsx, header = 1)."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[RejectedPost] = field(default_factory=list)
    adjusted: list[AdjustedPost] = field(default_factory=list)
    encoding: str = "utf-8"


class ImportFileError(ValueError):
    """The file cannot be read at all (unknown encoding, not a spreadsheet); nothing was imported."""


def decode_file(data: bytes) -> tuple[str, str]:
    """The text of an import file and the encoding it was read in; raises ImportFileError when it is
    neither UTF-8 (BOM or not), UTF-16 with a BOM, nor GB18030/GBK."""
    for bom, codec in BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec), codec
            except UnicodeDecodeError as exc:
                raise _undecodable(codec, exc) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        if detect_charset(data) in CHINESE_CODECS:
            try:
                return data.decode("gb18030"), "gb18030"
            except UnicodeDecodeError as exc:
                raise _undecodable("gb18030", exc) from None
        raise _undecodable("utf-8", utf8_error) from None


def _undecodable(codec: str, exc: UnicodeDecodeError) -> ImportFileError:
    return ImportFileError(
        f"无法识别文件编码：不是 UTF-8，也不是 GB18030/GBK（按 {codec} 读到第 {exc.start + 1} 字节时出错）。"
        "请在 Excel 中另存为“CSV UTF-8”或 .xlsx 后再导入；未导入任何数据。"
    )


def _jsonl_rows(text: str) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, ValueError(f"第 {number} 行不是合法的 JSON（第 {exc.colno} 列：{exc.msg}）")
            continue
        if is_capture(value):  # a browser capture (Zeeschuimer NDJSON): map the platform's object
            try:
                value = map_capture(value)
            except CaptureError as exc:
                yield number, ValueError(f"第 {number} 行：{exc}")
                continue
        yield number, value


def _csv_value(key: str, value: str) -> Any:
    if value.strip() == "":
        return None
    if key.startswith(_ENGAGEMENT_PREFIX):
        return int(value) if value.strip().lstrip("-").isdigit() else value
    return value


def _author_value(name: str, value: Any) -> Any:
    """A table cell of the author columns as its push value: followers as a count (1234, 1.2万),
    verified as a flag (true/false, 是/否, 1/0, 已认证/未认证); a cell that is neither is passed on
    as written, so the post is rejected with the reason instead of losing the value."""
    if name == "author_followers":
        if isinstance(value, float) and value.is_integer():
            return int(value)
        count = parse_count(value) if isinstance(value, str) else None
        return value if count is None else count
    if name == "author_verified":
        flag = parse_flag(value)
        return value if flag is None else flag
    if name == "author_id" and isinstance(value, float) and value.is_integer():
        return str(int(value))  # a spreadsheet stores a numeric id as a number
    return value


def _table_item(pairs: Iterable[tuple[Any, Any]]) -> dict[str, Any]:
    """One table row (CSV or spreadsheet) as a post: `engagement.<name>` columns grouped, author
    columns (`AUTHOR_COLUMNS`, Chinese headers too) read as their push fields."""
    item: dict[str, Any] = {}
    engagement: dict[str, Any] = {}
    for key, value in pairs:
        if key is None or value is None:
            continue
        name = str(key).strip()
        parsed = _csv_value(name, value) if isinstance(value, str) else value
        if parsed is None:
            continue
        if name in AUTHOR_COLUMNS:
            name = AUTHOR_COLUMNS[name]
            item[name] = _author_value(name, parsed)
        elif name.startswith(_ENGAGEMENT_PREFIX):
            engagement[name[len(_ENGAGEMENT_PREFIX) :]] = parsed
        else:
            item[name] = parsed
    if engagement:
        item["engagement"] = engagement
    return item


def _csv_rows(text: str) -> Iterator[tuple[int, Any]]:
    for number, row in enumerate(csv.DictReader(io.StringIO(text, newline="")), start=2):
        yield number, _table_item(row.items())


def _xlsx_rows(path: Path) -> Iterator[tuple[int, Any]]:
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        message = f"无法读取 Excel 文件（{type(exc).__name__}）；请确认是 .xlsx 格式。未导入任何数据。"
        raise ImportFileError(message) from None
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            return
        for number, values in enumerate(rows, start=2):
            if all(value is None or value == "" for value in values):
                continue
            yield number, _table_item(zip(header, values, strict=False))
    finally:
        book.close()


def read_rows(path: Path) -> tuple[Iterator[tuple[int, Any]], str]:
    """(row number, item or ValueError) for each row of a JSONL, CSV or .xlsx file, and the encoding
    the file was read in; raises ImportFileError when the file cannot be read at all."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _xlsx_rows(path), "xlsx"
    text, encoding = decode_file(path.read_bytes())
    if suffix == ".csv":
        return _csv_rows(text), encoding
    return _jsonl_rows(text), encoding


def read_times(number: int, item: Any, *, zone: ZoneInfo, now: datetime, adjusted: list[AdjustedPost]) -> Any:
    """The row with `published_at` read as a UTC ISO time (zone assumed, year inferred: noted in
    `adjusted`); a time that cannot be read becomes a ValueError naming the row."""
    if not isinstance(item, dict) or item.get("published_at") in (None, ""):
        return item
    raw = item["published_at"]
    parsed = parse_time_detail(raw, naive_tz=zone, now=now)
    if parsed is None:
        return ValueError(
            f"第 {number} 行的时间「{str(raw)[:40]}」无法识别或超出范围（可用 2026-12-03 15:21、"
            "2026/12/03 15:21、2026年12月3日 15:21、12-03 15:21 或带时区的 ISO 8601）"
        )
    value = parsed.moment.isoformat()
    notes = []
    if parsed.assumed_zone:
        notes.append(f"时间没有时区，按 {zone.key} 解读")
    if parsed.inferred_year:
        notes.append(f"时间没有年份，按不晚于导入时的最近日期取 {parsed.moment.astimezone(zone).year} 年")
    if notes and not isinstance(raw, str | datetime):
        notes = []
    if notes:
        adjusted.append(
            AdjustedPost.model_validate(
                {
                    "index": number,
                    "field": "published_at",
                    "from": str(raw),
                    "to": value,
                    "reason": "；".join(notes),
                }
            )
        )
    return {**item, "published_at": value}


def _count_rows(path: Path) -> int | None:
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return None
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def import_posts(
    pipeline: Pipeline,
    path: Path,
    source: str,
    *,
    batch_size: int = 500,
    progress: bool = True,
    zone: ZoneInfo | None = None,
    now: datetime | None = None,
) -> ImportReport:
    """Import a file in batches; each batch is one transaction; bad rows are reported, not fatal.

    Raises ImportFileError (nothing imported) when the file cannot be read at all.
    """
    zone = zone or ZoneInfo(pipeline.settings.timezone)
    now = now or datetime.now(UTC)
    rows, encoding = read_rows(path)
    report = ImportReport(encoding=encoding)
    batch: list[tuple[int, Any]] = []
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(f"importing {path.name}", total=_count_rows(path))
        for number, raw in rows:
            item = read_times(number, raw, zone=zone, now=now, adjusted=report.adjusted)
            if isinstance(item, ValueError):
                report.rejected.append(RejectedPost(index=number, error=str(item)))
            else:
                batch.append((number, item))
            if len(batch) >= batch_size:
                _flush(pipeline, source, batch, report)
                bar.update(task, advance=len(batch))
                batch = []
        if batch:
            _flush(pipeline, source, batch, report)
            bar.update(task, advance=len(batch))
    report.rejected.sort(key=lambda rejected: rejected.index)
    return report


def _flush(pipeline: Pipeline, source: str, batch: list[tuple[int, Any]], report: ImportReport) -> None:
    result = pipeline.push(source, [item for _, item in batch])
    report.accepted += result.accepted
    report.duplicates += result.duplicates
    for rejected in result.rejected:
        report.rejected.append(RejectedPost(index=batch[rejected.index][0], error=rejected.error))
    for adjusted in result.adjusted:
        report.adjusted.append(adjusted.model_copy(update={"index": batch[adjusted.index][0]}))
