"""CLI: `yuqing demo` loads the demo through the real pipeline and serves the dashboard."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.common import auto_migrate, settings_or_exit, setup

SINK_PATH = "/api/v1/demo/sink"
REMOVED_LABELS = {
    "posts": "帖子",
    "incidents": "事件",
    "topics": "话题",
    "sources": "来源",
    "channels": "通道",
    "cases": "案例",
    "keys": "密钥",
}


def local_base(host: str, port: int) -> str:
    """The URL this process is reachable at from itself (wildcard addresses become loopback)."""
    reachable = "127.0.0.1" if host in ("", "0.0.0.0", "::", "[::]") else host
    if ":" in reachable and not reachable.startswith("["):
        reachable = f"[{reachable}]"
    return f"http://{reachable}:{port}"


def _describe(summary, base: str) -> list[str]:  # type: ignore[no-untyped-def]
    from app.demo.loader import RULE, TOPIC

    lines = []
    if summary.skipped:
        lines.append("演示数据已存在，跳过载入（删除后重新载入：yuqing demo --remove）")
    else:
        lines.append(
            f"演示数据已载入，用时 {summary.seconds:.1f} 秒（全部经过真实的分析、话题匹配、汇总与预警流程）："
        )
        lines.append(
            f"  帖子：近 3 天日常帖子 {summary.history} 条 + 最近 25 分钟突发负面帖子 {summary.burst} 条"
        )
    lines.append(
        f"  话题：{TOPIC}（#{summary.topic_id}），规则：{RULE}；品牌为虚构，帖子为公开语料中的真实微博文本"
    )
    incident = summary.incident
    if incident:
        lines.append(f"  事件：#{incident['id']} {incident['title']}")
        lines.append(f"        {base}/#/incidents/{incident['id']}")
    else:
        lines.append("  事件：尚未开启（预警引擎没有判定为异常）")
    lines.append(
        f"  预警消息：演示通道把签名的 Webhook 发到本机接收器，查看：GET {base}{SINK_PATH}（带上下面的密钥）"
    )
    lines.append(f"仪表盘：{base}/  ·  API 文档：{base}/docs  ·  删除演示数据：yuqing demo --remove")
    return lines


def demo(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    load_only: Annotated[bool, typer.Option("--load-only", help="Load the demo and exit.")] = False,
    remove: Annotated[bool, typer.Option("--remove", help="Delete every demo entity and exit.")] = False,
) -> None:
    """Load the demo (a fictional brand, three days of real posts, a negative burst) and serve."""
    from app.core.db import utcnow
    from app.demo import loader
    from app.runtime.container import Services

    settings = settings_or_exit()
    setup(settings)
    auto_migrate(settings)
    base = local_base(host, port)
    if remove:
        _remove(settings)
        return
    services = Services.create(settings)
    try:
        sink = base + SINK_PATH if settings.demo_sink_enabled else None
        summary = loader.load(services.pipeline, now=utcnow(), sink_url=sink)
        with services.db.session() as session:
            key = loader.admin_key(session)
    finally:
        services.db.dispose()
    for line in _describe(summary, base):
        typer.echo(line)
    typer.echo("管理员密钥 demo-admin（只显示这一次，用它登录仪表盘）：")
    typer.echo(key)
    if load_only:
        return
    from app.runtime.server import run_server

    # The demo's webhook sink is this server: its own address must be the base URL.
    run_server(settings.model_copy(update={"base_url": base}), host=host, port=port)


def _remove(settings) -> None:  # type: ignore[no-untyped-def]
    from app.core.db import Database
    from app.demo import loader

    db = Database(settings.database_url)
    try:
        with db.session() as session:
            counts = loader.remove(session).counts
    finally:
        db.dispose()
    typer.echo(
        "已删除演示数据："
        + "，".join(f"{REMOVED_LABELS.get(name, name)} {count}" for name, count in counts.items())
    )
