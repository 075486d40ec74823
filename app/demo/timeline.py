"""The demo's posts laid on a timeline (pure: texts, times and a seeded RNG in, push dicts out).

History: three days of everyday posts with a China-time daily rhythm (quiet nights, peaks at lunch
and in the evening); a share of them mention the fictional brand so its topic has a steady
baseline. Burst: the last BURST_MINUTES minutes bring a growing wave of angry posts about the
brand's brakes — rewritten corpus texts, near-identical copies from many accounts and two news
reports from a media source — plus the usual chatter.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from app.demo.sample import SampleText

BRAND = "星河汽车"
HISTORY = timedelta(days=3)
BURST_MINUTES = 25
STEP = timedelta(minutes=1)
BRAND_SHARE = 0.45
CHINA = timedelta(hours=8)
HOURLY_WEIGHT = (
    0.35,
    0.2,
    0.12,
    0.08,
    0.08,
    0.12,
    0.3,
    0.6,
    0.9,
    1.0,
    1.0,
    1.2,
    1.6,
    1.4,
    1.0,
    0.95,
    0.95,
    1.0,
    1.2,
    1.4,
    1.7,
    1.8,
    1.4,
    0.8,
)
BRAND_TEMPLATES = (
    "{text} #{brand}#",
    "刚在{brand}门店看车，{text}",
    "{text}（{brand}车主）",
    "{brand}：{text}",
    "{text} 话说{brand}新款出了吗",
    "和朋友聊到{brand}，{text}",
)
BURST_TEMPLATES = (
    "#{brand}刹车失灵# {text}",
    "{brand}刹车失灵，{text}",
    "刚看到{brand}刹车失灵的视频。{text}",
    "{text} {brand}刹车出问题还不召回？",
    "{brand}高速上刹车失灵，差点出事！{text}",
)
COPIES = (
    "#星河汽车刹车失灵# 新车不到一个月刹车就失灵，差点送命，气死我了！垃圾车，必须召回！[怒][怒]",
    "星河汽车刹车失灵还死不认账，太恶心了，再也不会买星河汽车了[怒]",
    "星河汽车4S店推卸责任，刹车失灵的车主们都气炸了，垃圾品牌，维权到底！[怒]",
)
BURST_RAMP = (2, 5, 10, 15, 18)  # posts per minute in each fifth of the burst
NICK_HEADS = ("小", "阿", "老", "大", "胖", "喵", "橙子", "豆包", "星星", "木子", "晴天", "北风")
NICK_TAILS = ("鱼", "猫", "树", "风", "土豆", "柠檬", "不吃香菜", "爱睡觉", "在路上", "的日常", "酱", "君")


@dataclass
class Chunk:
    """Posts to push at one moment: per source name, the list of push dicts."""

    at: datetime
    posts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, source: str, post: dict[str, Any]) -> None:
        """Queue a post for a source."""
        self.posts.setdefault(source, []).append(post)


def nickname(rng: random.Random) -> str:
    """A made-up account name."""
    return f"{rng.choice(NICK_HEADS)}{rng.choice(NICK_TAILS)}{rng.randint(10, 9999)}"


def _weight(moment: datetime) -> float:
    return HOURLY_WEIGHT[(moment + CHINA).hour]


def _moments(start: datetime, end: datetime, count: int, rng: random.Random) -> list[datetime]:
    slots, weights = [], []
    moment = start
    while moment < end:
        slots.append(moment)
        weights.append(_weight(moment) * rng.uniform(0.85, 1.15))
        moment += timedelta(minutes=5)
    picked = rng.choices(slots, weights=weights, k=count)
    return sorted(
        min(slot + timedelta(seconds=rng.randint(0, 299)), end - timedelta(seconds=1)) for slot in picked
    )


def _everyday(item: SampleText, ident: str, when: datetime, rng: random.Random) -> tuple[str, dict[str, Any]]:
    text = item.text
    if rng.random() < BRAND_SHARE:
        text = rng.choice(BRAND_TEMPLATES).format(text=text, brand=BRAND)
    source = "演示·社区" if rng.random() < 0.15 else "演示·微博"
    engagement = {"likes": int(rng.paretovariate(1.6)) - 1, "comments": rng.randint(0, 3)}
    post = {
        "id": ident,
        "text": text,
        "author": nickname(rng),
        "published_at": when.isoformat(),
        "platform": "zhihu" if source == "演示·社区" else "weibo",
        "engagement": engagement,
    }
    return source, post


def history(texts: list[SampleText], now: datetime, rng: random.Random) -> list[tuple[str, dict[str, Any]]]:
    """Everyday posts over the three days before the burst, as (source name, push dict), oldest first."""
    start, end = now - HISTORY, now - timedelta(minutes=BURST_MINUTES)
    moments = _moments(start, end, len(texts), rng)
    return [
        _everyday(item, f"demo-h{i}", when, rng)
        for i, (item, when) in enumerate(zip(texts, moments, strict=True))
    ]


def _angry(item: SampleText, ident: str, when: datetime, rng: random.Random) -> tuple[str, dict[str, Any]]:
    text = rng.choice(BURST_TEMPLATES).format(text=item.text, brand=BRAND)
    source = "演示·短视频" if rng.random() < 0.25 else "演示·微博"
    post = {
        "id": ident,
        "text": text,
        "author": nickname(rng),
        "published_at": when.isoformat(),
        "platform": "douyin" if source == "演示·短视频" else "weibo",
        "engagement": {
            "reposts": rng.randint(5, 300),
            "likes": rng.randint(10, 800),
            "comments": rng.randint(0, 90),
        },
    }
    return source, post


def _news(index: int, when: datetime) -> dict[str, Any]:
    items = (
        (
            "星河汽车回应“刹车失灵”质疑：已成立专项小组调查",
            "多名车主在社交平台反映星河汽车旗下车型高速行驶时出现刹车失灵，部分车主要求召回。记者联系星河汽车客服，"
            "对方表示已成立专项小组调查，将尽快公布结果。",
        ),
        (
            "多地车主反映星河汽车刹车问题 专家建议尽快排查",
            "近日，多地星河汽车车主集中反映车辆刹车失灵问题，相关话题在微博、抖音持续发酵。汽车安全专家表示，"
            "如确认为共性缺陷，企业应主动召回。",
        ),
    )
    title, text = items[index % len(items)]
    return {
        "id": f"demo-news{index}",
        "title": title,
        "text": f"{title}。{text}",
        "author": "演示新闻网",
        "url": f"https://news.example.com/demo/{index + 1}",
        "published_at": when.isoformat(),
        "platform": "news",
        "engagement": {"reposts": 1200 + 400 * index, "comments": 300},
    }


def burst(
    angry: list[SampleText], everyday: list[SampleText], now: datetime, rng: random.Random
) -> list[Chunk]:
    """The last BURST_MINUTES minutes as one chunk per minute, each pushed with the clock at its end."""
    start = now - timedelta(minutes=BURST_MINUTES)
    chunks, angry_left, calm_left = [], list(angry), list(everyday)
    for minute in range(BURST_MINUTES):
        chunk = Chunk(at=start + STEP * (minute + 1))
        rate = BURST_RAMP[minute * len(BURST_RAMP) // BURST_MINUTES]
        for n in range(rate):
            when = chunk.at - timedelta(seconds=rng.randint(1, 59))
            if n % 3 == 2 and minute >= 8:
                chunk.add(
                    "演示·微博",
                    {
                        "id": f"demo-c{minute}-{n}",
                        "text": COPIES[(minute + n) % len(COPIES)],
                        "author": f"用户{rng.randint(1_000_000, 9_999_999)}",
                        "published_at": when.isoformat(),
                        "platform": "weibo",
                        "engagement": {"reposts": rng.randint(0, 20)},
                    },
                )
            elif angry_left:
                chunk.add(*_angry(angry_left.pop(), f"demo-b{minute}-{n}", when, rng))
        if calm_left and rng.random() < 0.6:
            chunk.add(*_everyday(calm_left.pop(), f"demo-q{minute}", chunk.at - STEP / 2, rng))
        if minute in (12, 20):
            chunk.add("演示·新闻网", _news(0 if minute == 12 else 1, chunk.at - timedelta(seconds=20)))
        chunks.append(chunk)
    return chunks


def utc(moment: datetime) -> datetime:
    """A moment in UTC, to the second."""
    return moment.astimezone(UTC).replace(microsecond=0)
