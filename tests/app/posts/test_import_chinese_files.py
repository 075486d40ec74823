"""Import that respects Chinese data: GB18030/GBK (Excel on Chinese Windows), UTF-8 with or without
BOM, Excel .xlsx; times without an offset read in YUQING_TIMEZONE; common Chinese date forms; every
assumption listed per row; an unreadable file refused whole with a Chinese message."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import select

from app.importer import ImportFileError, decode_file, import_posts
from app.posts.models import Post
from app.sources.models import Source

ROOT = Path(__file__).resolve().parents[3]
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)  # 18:00 in Beijing
ROWS = [
    ["id", "text", "author", "published_at", "engagement.reposts"],
    ["g1", "星河汽车刹车失灵，车主维权", "车主甲", "2026/12/03 15:21", "12"],
    ["g2", "星河汽车回应：已成立调查组", "星河汽车官方", "2026年12月3日 16:05", "3"],
    ["g3", "網友：這款車的剎車有問題", "網友乙", "12-03 17:30", ""],
    ["g4", "带时区的时间不做假设", "丙", "2026-12-03T08:00:00+00:00", ""],
    ["g5", "这行的时间看不懂", "丁", "下周三", ""],
]


def _csv_bytes(encoding: str) -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(ROWS)
    return buffer.getvalue().encode(encoding)


def _stored(db, source: str) -> dict[str, Post]:  # type: ignore[no-untyped-def]
    with db.session() as session:
        stmt = select(Post).join(Source, Source.id == Post.source_id).where(Source.name == source)
        return {post.external_id: post for post in session.scalars(stmt)}


def _check(report, db, source: str) -> None:  # type: ignore[no-untyped-def]
    assert (report.accepted, report.duplicates) == (4, 0)
    assert [r.index for r in report.rejected] == [6]
    assert "第 6 行的时间「下周三」无法识别" in report.rejected[0].error
    adjusted = {row.index: row for row in report.adjusted}
    assert sorted(adjusted) == [2, 3, 4]  # g4 carried its offset: nothing assumed
    assert "按 Asia/Shanghai 解读" in adjusted[2].reason
    assert "没有年份" in adjusted[4].reason and "2026 年" in adjusted[4].reason
    posts = _stored(db, source)
    assert posts["g1"].text.startswith("星河汽车刹车失灵")
    assert posts["g1"].published_at == datetime(2026, 12, 3, 7, 21, tzinfo=UTC)  # 15:21 Beijing time
    assert posts["g2"].published_at == datetime(2026, 12, 3, 8, 5, tzinfo=UTC)
    assert posts["g3"].published_at == datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
    assert posts["g4"].published_at == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    assert posts["g1"].engagement == {"reposts": 12}


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8", "utf-8-sig", "utf-16"])
def test_text_files_in_every_chinese_encoding(services, db, tmp_path: Path, encoding: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / f"posts-{encoding}.csv"
    path.write_bytes(_csv_bytes(encoding))
    report = import_posts(
        services.pipeline, path, f"import-{encoding}", progress=False, zone=SHANGHAI, now=NOW
    )
    _check(report, db, f"import-{encoding}")
    expected = {"gbk": "gb18030", "gb18030": "gb18030", "utf-8": "utf-8", "utf-8-sig": "utf-8-sig"}
    assert report.encoding == expected.get(encoding, report.encoding)


def test_excel_workbook(services, db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    book = openpyxl.Workbook()
    sheet = book.active
    for row in ROWS:
        sheet.append(row)
    sheet.append([None, None, None, None, None])  # a blank row is skipped
    sheet.append(["g6", "Excel 日期单元格", "戊", datetime(2026, 12, 3, 14, 0), 7])
    path = tmp_path / "posts.xlsx"
    book.save(path)
    report = import_posts(services.pipeline, path, "excel", progress=False, zone=SHANGHAI, now=NOW)
    assert report.accepted == 5 and [r.index for r in report.rejected] == [6]
    posts = _stored(db, "excel")
    assert posts["g6"].published_at == datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
    assert posts["g6"].engagement == {"reposts": 7}
    assert posts["g1"].published_at == datetime(2026, 12, 3, 7, 21, tzinfo=UTC)
    assert {row.index for row in report.adjusted} == {2, 3, 4, 8}


def test_an_undecodable_file_is_refused_whole(services, db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "big5.csv"
    path.write_bytes("id,text\nb1,這是繁體的 Big5 檔案\n".encode("big5") + b"\xff\xfe\xfd")
    with pytest.raises(ImportFileError, match="无法识别文件编码"):
        import_posts(services.pipeline, path, "big5", progress=False, zone=SHANGHAI, now=NOW)
    assert _stored(db, "big5") == {}
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(ImportFileError, match="无法读取 Excel 文件"):
        import_posts(services.pipeline, broken, "broken", progress=False)


def test_decode_file_tells_the_encoding() -> None:
    text = "星河汽车，刹车失灵"
    assert decode_file(text.encode("gbk")) == (text, "gb18030")
    assert decode_file(text.encode("utf-8")) == (text, "utf-8")
    assert decode_file(b"\xef\xbb\xbf" + text.encode("utf-8")) == (text, "utf-8-sig")
    with pytest.raises(ImportFileError):
        decode_file(bytes(range(128, 256)) * 4)


@pytest.mark.slow
def test_cli_import_of_a_gbk_file_and_of_an_unreadable_one(tmp_path: Path) -> None:
    database = tmp_path / "cli.db"
    env = {
        **os.environ,
        "YUQING_DATABASE_URL": f"sqlite:///{database}",
        "YUQING_LOG_LEVEL": "WARNING",
        "YUQING_TIMEZONE": "Asia/Shanghai",
    }
    good = tmp_path / "excel-export.csv"
    good.write_bytes(_csv_bytes("gbk"))
    result = subprocess.run(
        [sys.executable, "-m", "app", "import", str(good), "--source", "crm"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "accepted 4" in result.stdout and "read as gb18030" in result.stdout
    assert "按 Asia/Shanghai 解读" in result.stdout
    bad = tmp_path / "garbage.csv"
    bad.write_bytes(bytes(range(128, 256)) * 4)
    result = subprocess.run(
        [sys.executable, "-m", "app", "import", str(bad), "--source", "crm"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
        env=env,
    )
    assert result.returncode == 1
    assert "无法识别文件编码" in result.stderr and "Traceback" not in result.stderr


def test_a_json_source_reads_times_without_offset_in_the_configured_zone(  # type: ignore[no-untyped-def]
    client, db, write_headers, loopback_server, settings
) -> None:
    assert settings.timezone == "Asia/Shanghai"  # the default
    body = '{"items": [{"id": "j1", "t": "星河汽车门店排长队", "at": "2026-12-03 15:21:00"}]}'
    loopback_server.serve("/api", body.encode("utf-8"), content_type="application/json")
    options = {"items_path": "items", "fields": {"id": "id", "text": "t", "published_at": "at"}}
    created = client.post(
        "/api/v1/sources",
        headers=write_headers,
        json={"name": "crm-api", "kind": "json", "url": loopback_server.url("/api"), "options": options},
    )
    assert created.status_code == 201, created.text
    run = client.post(f"/api/v1/sources/{created.json()['id']}/collect", headers=write_headers).json()
    assert run["status"] == "ok" and run["new"] == 1
    assert _stored(db, "crm-api")["j1"].published_at == datetime(2026, 12, 3, 7, 21, tzinfo=UTC)
