"""decode_body: declared charsets, GB family, undeclared GBK, truncated or damaged UTF-8."""

from __future__ import annotations

import codecs

import pytest

from collectors.charset import declared_charsets, decode_body, detect_charset, gb2312_share, normalise_charset

WEIBO = "网友热议：某品牌召回事件持续发酵，官方回应称将全额退款。"


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        ("GB2312", "gb18030"),
        ("gbk", "gb18030"),
        ("x-gbk", "gb18030"),
        ("CP936", "gb18030"),
        ("GB18030", "gb18030"),
        ("UTF8", "utf-8"),
        ("utf-8", "utf-8"),
        ("Big5", "big5"),
        ("latin-1", "iso8859_1"),
        ("no-such", None),
        (None, None),
    ],
)
def test_normalise_charset(name: str | None, codec: str | None) -> None:
    assert normalise_charset(name) == codec


def test_declared_charsets_in_priority_order() -> None:
    body = b'<?xml version="1.0" encoding="GBK"?><html><meta charset="big5">'
    assert declared_charsets(body, "text/xml; charset=UTF-8") == ["utf-8", "gb18030", "big5"]
    assert declared_charsets(b"<rss/>", "application/xml") == []
    meta = b'<meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
    assert declared_charsets(meta, None) == ["gb18030"]


def test_header_charset_gb2312_decodes_gbk_superset() -> None:
    body = "陶喆、王堃：".encode("gbk")  # 喆 and 堃 are not in GB2312
    assert decode_body(body, "text/html; charset=gb2312") == "陶喆、王堃："


def test_xml_declaration_is_honoured() -> None:
    body = f'<?xml version="1.0" encoding="gb2312"?><t>{WEIBO}</t>'.encode("gbk")
    assert decode_body(body, "application/xml") == f'<?xml version="1.0" encoding="gb2312"?><t>{WEIBO}</t>'


@pytest.mark.parametrize("text", ["舆情", "小区停水", WEIBO, "<title>微博热搜：某品牌召回</title>"])
def test_undeclared_gbk_is_detected_even_when_short(text: str) -> None:
    assert decode_body(text.encode("gbk"), None) == text


def test_undeclared_utf8_is_utf8() -> None:
    assert decode_body(WEIBO.encode("utf-8"), "application/json") == WEIBO


def test_utf8_truncated_mid_sequence_decodes_as_utf8_with_replacement() -> None:
    body = (WEIBO * 3).encode("utf-8")[:-1]  # cut inside the final 。
    decoded = decode_body(body, "application/xml; charset=utf-8")
    assert decoded == (WEIBO * 3)[:-1] + "\ufffd"
    assert decode_body(body, None) == decoded  # undeclared: same result, no Latin fallback
    # Short texts are where detection guesses wildly (Shift_JIS for this one); UTF-8 must still win.
    assert decode_body("舆情监测报告".encode()[:-1], None) == "舆情监测报\ufffd"


def test_a_few_stray_bytes_do_not_turn_utf8_into_another_codec() -> None:
    body = WEIBO.encode("utf-8") + b" caf\xe9 " + (WEIBO * 2).encode("utf-8")
    decoded = decode_body(body, None)
    assert decoded.count("\ufffd") == 1 and decoded.startswith(WEIBO)


def test_declared_utf8_but_really_gbk_is_rescued() -> None:
    assert decode_body(WEIBO.encode("gbk"), "text/xml; charset=utf-8") == WEIBO


def test_western_default_charset_with_utf8_body_prefers_utf8() -> None:
    assert decode_body(WEIBO.encode("utf-8"), "text/html; charset=ISO-8859-1") == WEIBO
    assert decode_body("café".encode("latin-1"), "text/html; charset=ISO-8859-1") == "café"


@pytest.mark.parametrize("bom,codec", [(codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le")])
def test_byte_order_mark_wins(bom: bytes, codec: str) -> None:
    assert decode_body(bom + WEIBO.encode(codec), "text/plain; charset=gbk") == WEIBO


def test_gb2312_share_separates_gbk_from_big5_and_shift_jis() -> None:
    assert gb2312_share(WEIBO.encode("gbk")) > 0.95
    assert gb2312_share("臺灣新聞：颱風來襲，各地停班停課".encode("big5")) < 0.9
    assert gb2312_share("日本語のテキストです".encode("shift_jis")) < 0.5
    assert detect_charset(WEIBO.encode("gbk")) == "gb18030"
