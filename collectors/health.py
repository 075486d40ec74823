"""What a failed collection means for the person running the source, in terms they can act on.

A failed run is recorded with its error message (collectors/errors.py builds it: `HTTP 503 from host:
<excerpt>` and the like, and an RSSHub error page contributes its `Error message:` line). `classify`
reads that message and says which of a small set of causes it is — cookie expired or login needed,
the platform's risk control (风控: Bilibili −352, Zhihu 403 signing), a captcha page served instead
of the feed, rate limiting, a route that does not exist, the source down — each with Chinese advice.
Pure: text in, a `Health` out.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Health(StrEnum):
    """The state of a source, as the dashboard and reports show it."""

    OK = "ok"
    NEVER_RUN = "never_run"
    DISABLED = "disabled"
    SILENT = "silent"
    LOGIN_REQUIRED = "login_required"
    RISK_CONTROL = "risk_control"
    CAPTCHA = "captcha"
    RATE_LIMITED = "rate_limited"
    NOT_FOUND = "not_found"
    BLOCKED = "blocked"
    NOT_A_FEED = "not_a_feed"
    UPSTREAM_ERROR = "upstream_error"
    NETWORK = "network"
    FAILING = "failing"


LABELS: dict[Health, tuple[str, str]] = {
    Health.OK: ("正常", ""),
    Health.NEVER_RUN: ("尚未采集", "等待第一次采集，或点“立即采集”。"),
    Health.DISABLED: ("已停用", ""),
    Health.SILENT: (
        "长时间没有新内容",
        "比平常的间隔久得多没有新帖：确认账号/关键词仍然活跃，或路由是否已失效。",
    ),
    Health.LOGIN_REQUIRED: (
        "需要登录或 Cookie 已过期",
        "在 RSSHub 中更新该平台的 Cookie（如 WEIBO_COOKIES、ZHIHU_COOKIES）。",
    ),
    Health.RISK_CONTROL: (
        "被平台风控拦截",
        "降低采集频率，并为 RSSHub 配置该平台的 Cookie（B站 BILIBILI_COOKIE_{uid}、知乎 ZHIHU_COOKIES）。",
    ),
    Health.CAPTCHA: ("平台要求验证码", "在浏览器中完成验证后更新 Cookie，或暂时降低采集频率。"),
    Health.RATE_LIMITED: ("被限流", "已按对方要求推迟下一次采集；持续出现时请拉长采集间隔。"),
    Health.NOT_FOUND: (
        "地址或路由不存在",
        "检查路由参数（用户 ID、关键词）是否正确，RSSHub 版本是否支持该路由。",
    ),
    Health.BLOCKED: (
        "地址被安全策略拒绝",
        "内网或保留地址不允许访问；自建服务请加入 YUQING_URL_ALLOWLIST。",
    ),
    Health.NOT_A_FEED: ("返回的不是订阅源", "对方返回了网页或错误页：检查地址，或该站点拦截了自动访问。"),
    Health.UPSTREAM_ERROR: (
        "对方服务出错",
        "对方（或 RSSHub）返回 5xx 错误，通常会自行恢复；持续出现请检查 RSSHub 日志。",
    ),
    Health.NETWORK: ("网络不通", "无法连接或超时：检查网络、DNS 和代理。"),
    Health.FAILING: ("采集失败", "查看最近错误的详情。"),
}


def _rule(health: Health, *markers: str) -> tuple[Health, re.Pattern[str]]:
    return health, re.compile("|".join(markers), re.IGNORECASE)


# Checked in order: the first rule whose pattern occurs in the message names the cause.
_RULES: tuple[tuple[Health, re.Pattern[str]], ...] = (
    _rule(Health.RISK_CONTROL, r"-352", r"-412", "风控", "risk control", "x-zse", "请求被拦截", "访问受限"),
    _rule(Health.CAPTCHA, "验证码", "captcha", "人机验证", "安全验证", "anti-bot challenge", "滑块"),
    _rule(Health.LOGIN_REQUIRED, "cookie", "登录", "login", "未授权", "HTTP 401", "token"),
    _rule(Health.RATE_LIMITED, "HTTP 429", r"rate.?limit", "too many requests", "访问频繁", "请求过于频繁"),
    _rule(Health.RISK_CONTROL, "HTTP 403", "status code 403", "forbidden"),
    _rule(Health.BLOCKED, "refused to connect", "unsafe", "not allowed to reach", "private address"),
    _rule(Health.NOT_FOUND, "HTTP 404", "HTTP 410", "not found"),
    _rule(Health.NOT_A_FEED, "not a feed", "not an rss", "html page", "not a json", r"is not \w+ feed"),
    _rule(Health.UPSTREAM_ERROR, r"HTTP 5\d\d"),
    _rule(Health.NETWORK, "network error", r"timed? ?out", "timeout", "cannot resolve", "connection"),
)
_RSSHUB_ERROR = re.compile(r"Error message:\s*(.+?)(?:\s*Helpful Information|\s*Path:|$)", re.DOTALL)


def classify(message: str | None) -> Health:
    """The cause of a failed run from its recorded error message (FAILING when none is recognised)."""
    text = message or ""
    for health, pattern in _RULES:
        if pattern.search(text):
            return health
    return Health.FAILING


def rsshub_error(text: str) -> str | None:
    """The `Error message:` line of an RSSHub error page (its text), or None when it is not one."""
    if "Looks like something went wrong" not in text and "Route requested" not in text:
        return None
    found = _RSSHUB_ERROR.search(text)
    return " ".join(found.group(1).split()) if found else None


def label(health: Health) -> str:
    """The state in Chinese."""
    return LABELS[health][0]


def advice(health: Health) -> str:
    """What to do about it, in Chinese (empty when nothing is to be done)."""
    return LABELS[health][1]
