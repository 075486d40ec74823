"""Platform presets: add a source by platform and parameter instead of a URL.

Each preset knows its route template, the platform its posts come from, a sensible interval, whether
it counts as media (新闻媒体, toward 影响类) and the RSSHub cookie its route may need. Routes are
RSSHub's (`YUQING_RSSHUB_URL`), a 公众号 bridge's (`YUQING_WECHAT_BRIDGE_URL`: wewe-rss) or a news
site's own feed. Parameters are checked against a pattern and percent-encoded into the path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from app.core.config import Settings
from app.core.errors import BadRequest, NotFound
from app.sources.schemas import SourceCreate


class Base(StrEnum):
    """Where a preset's route is served."""

    RSSHUB = "rsshub"
    WECHAT_BRIDGE = "wechat_bridge"
    DIRECT = "direct"


@dataclass(frozen=True)
class Param:
    """One parameter of a preset: its name in the route, a Chinese label, a pattern and an example."""

    name: str
    label: str
    pattern: str
    example: str

    def check(self, value: Any) -> str:
        """The value as text, or BadRequest naming the parameter in Chinese."""
        text = str(value).strip() if value is not None else ""
        if not text or not re.fullmatch(self.pattern, text):
            raise BadRequest(f"参数「{self.label}」（{self.name}）不正确：{text!r}，示例：{self.example}")
        return text


@dataclass(frozen=True)
class Preset:
    """A platform source anyone can add by filling in its parameters."""

    id: str
    platform: str
    name: str
    route: str
    params: tuple[Param, ...] = ()
    base: Base = Base.RSSHUB
    interval_seconds: int = 600
    media: bool = False
    hotlist: bool = False  # a 热搜/热榜: items come in rank order (app/sources/hotlist.py)
    cookie: str | None = None  # the RSSHub setting the route may need (docs/SOURCES.md)
    note: str = ""

    def url(self, values: dict[str, Any], settings: Settings) -> str:
        """The feed URL for these parameter values; BadRequest when one is missing or wrong, or when
        the base URL the preset needs is not configured."""
        unknown = sorted(set(values) - {param.name for param in self.params})
        if unknown:
            raise BadRequest(f"预设「{self.name}」没有参数 {', '.join(unknown)}")
        path = self.route
        for param in self.params:
            path = path.replace(f"{{{param.name}}}", quote(param.check(values.get(param.name)), safe=""))
        if self.base is Base.DIRECT:
            return path
        base = settings.rsshub_url if self.base is Base.RSSHUB else settings.wechat_bridge_url
        if not base:
            variable = "YUQING_RSSHUB_URL" if self.base is Base.RSSHUB else "YUQING_WECHAT_BRIDGE_URL"
            raise BadRequest(f"预设「{self.name}」需要先配置 {variable}（见 docs/SOURCES.md）")
        return base.rstrip("/") + path


UID = Param("uid", "用户 ID", r"[0-9]{1,20}", "1195230310")
KEYWORD = Param("keyword", "关键词", r"[^/\s][^/]{0,49}", "星河汽车")

PRESETS: tuple[Preset, ...] = (
    Preset(
        "weibo_user",
        "weibo",
        "微博用户",
        "/weibo/user/{uid}",
        (UID,),
        interval_seconds=600,
        cookie="WEIBO_COOKIES",
        note="部分账号需要登录 Cookie",
    ),
    Preset(
        "weibo_keyword",
        "weibo",
        "微博关键词搜索",
        "/weibo/keyword/{keyword}",
        (KEYWORD,),
        interval_seconds=300,
        cookie="WEIBO_COOKIES",
        note="品牌监测的主力来源",
    ),
    Preset(
        "weibo_hot",
        "weibo",
        "微博热搜榜",
        "/weibo/search/hot",
        interval_seconds=300,
        hotlist=True,
        note="热搜条目没有发布时间，按链接去重；条目按排名记录在榜时长",
    ),
    Preset(
        "zhihu_hot",
        "zhihu",
        "知乎热榜",
        "/zhihu/hot",
        interval_seconds=600,
        hotlist=True,
        cookie="ZHIHU_COOKIES",
    ),
    Preset("baidu_hot", "baidu", "百度热搜", "/baidu/top", interval_seconds=600, hotlist=True),
    Preset("bilibili_hot", "bilibili", "B站热搜", "/bilibili/hot-search", interval_seconds=600, hotlist=True),
    Preset(
        "zhihu_question",
        "zhihu",
        "知乎问题回答",
        "/zhihu/question/{question}",
        (Param("question", "问题 ID", r"[0-9]{1,20}", "59895982"),),
        interval_seconds=900,
        cookie="ZHIHU_COOKIES",
    ),
    Preset(
        "zhihu_user",
        "zhihu",
        "知乎用户动态",
        "/zhihu/people/activities/{user}",
        (Param("user", "用户 ID", r"[A-Za-z0-9_\-]{1,64}", "diygod"),),
        interval_seconds=900,
        cookie="ZHIHU_COOKIES",
    ),
    Preset(
        "bilibili_up",
        "bilibili",
        "B站 UP 主动态",
        "/bilibili/user/dynamic/{uid}",
        (UID,),
        interval_seconds=900,
        cookie="BILIBILI_COOKIE_{uid}",
        note="风控校验失败（-352）时需要 Cookie",
    ),
    Preset(
        "bilibili_search",
        "bilibili",
        "B站视频搜索",
        "/bilibili/vsearch/{keyword}",
        (KEYWORD,),
        interval_seconds=900,
    ),
    Preset(
        "douyin_user",
        "douyin",
        "抖音用户",
        "/douyin/user/{uid}",
        (Param("uid", "用户 sec_uid", r"[A-Za-z0-9_\-]{8,100}", "MS4wLjABAAAA…"),),
        interval_seconds=1800,
        note="需要 RSSHub 开启 puppeteer；常遇验证码中间页",
    ),
    Preset(
        "xiaohongshu_user",
        "xiaohongshu",
        "小红书用户笔记",
        "/xiaohongshu/user/{user}/notes",
        (Param("user", "用户 ID", r"[0-9a-f]{24}", "593032945e87e77791e03696"),),
        interval_seconds=1800,
        cookie="XIAOHONGSHU_COOKIE",
        note="Cookie 过期或出现验证码时采集中断",
    ),
    Preset(
        "tieba_forum",
        "tieba",
        "百度贴吧",
        "/baidu/tieba/forum/{forum}",
        (Param("forum", "吧名", r"[^/\s][^/]{0,31}", "星河汽车"),),
        interval_seconds=900,
    ),
    Preset(
        "toutiao_keyword",
        "toutiao",
        "今日头条关键词",
        "/jinritoutiao/keyword/{keyword}",
        (KEYWORD,),
        interval_seconds=900,
        note="RSSHub 没有今日头条用户主页的路由，按关键词监测",
    ),
    Preset(
        "wechat_mp",
        "wechat",
        "微信公众号（wewe-rss）",
        "/feeds/{feed}.atom",
        (Param("feed", "公众号 feed ID", r"[A-Za-z0-9_\-]{1,100}", "MP_WXS_123456"),),
        base=Base.WECHAT_BRIDGE,
        interval_seconds=1800,
        note="在 wewe-rss 中添加公众号后取其 feed ID",
    ),
    Preset(
        "news_thepaper", "news", "澎湃新闻（精选）", "/thepaper/featured", interval_seconds=900, media=True
    ),
    Preset(
        "news_people",
        "news",
        "人民网（时政）",
        "http://www.people.com.cn/rss/politics.xml",
        base=Base.DIRECT,
        interval_seconds=1800,
        media=True,
    ),
    Preset(
        "news_chinanews",
        "news",
        "中国新闻网（滚动）",
        "https://www.chinanews.com.cn/rss/scroll-news.xml",
        base=Base.DIRECT,
        interval_seconds=900,
        media=True,
    ),
)
BY_ID = {preset.id: preset for preset in PRESETS}


def get(preset_id: str) -> Preset:
    """A preset by id, or NotFound."""
    preset = BY_ID.get(preset_id)
    if preset is None:
        raise NotFound(f"no source preset {preset_id!r}; GET /api/v1/source-presets lists them")
    return preset


def source_for(
    preset_id: str,
    values: dict[str, Any],
    settings: Settings,
    *,
    name: str | None = None,
    interval_seconds: int | None = None,
) -> SourceCreate:
    """The source a preset makes for these parameters (kind `rss`, platform set, media as the preset)."""
    preset = get(preset_id)
    url = preset.url(values, settings)
    label = "、".join(str(values[p.name]) for p in preset.params if p.name in values)
    return SourceCreate(
        name=name or (f"{preset.name}：{label}" if label else preset.name),
        kind="rss",
        url=url,
        interval_seconds=interval_seconds or preset.interval_seconds,
        options={"platform": preset.platform},
        media=preset.media,
        hotlist=preset.hotlist,
    )
