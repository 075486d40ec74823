"""A tiny Mastodon timeline on loopback: min_id/max_id/limit paging, Link and rate-limit headers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from collectors.mastodon import id_key
from tests.collectors.helpers import fixture_bytes
from tests.support.loopback import LoopbackServer, RecordedRequest, Reply


def load_statuses() -> dict[str, dict[str, Any]]:
    """Our fixture statuses (tests/fixtures/collectors/mastodon_statuses.json) by id."""
    return {status["id"]: status for status in json.loads(fixture_bytes("mastodon_statuses.json"))}


class FakeMastodon:
    """Serves one timeline of `statuses` the way Mastodon pages it (ids compared as opaque strings)."""

    def __init__(
        self,
        server: LoopbackServer,
        *,
        hashtag: str | None = "舆情",
        remaining: int = 300,
        reset_in: float = 300.0,
        token: str | None = None,
    ) -> None:
        self.server = server
        self.statuses: list[dict[str, Any]] = []
        self.remaining = remaining
        self.reset_in = reset_in
        self.token = token
        self.path = (
            f"/api/v1/timelines/tag/{quote(hashtag, safe='')}" if hashtag else "/api/v1/timelines/public"
        )
        server.handle(self.path, self.respond)

    def publish(self, *statuses: dict[str, Any]) -> None:
        """Add statuses to the timeline."""
        self.statuses.extend(statuses)

    def requests(self) -> list[RecordedRequest]:
        """Requests received by the timeline endpoint."""
        return self.server.requests_to(self.path)

    def respond(self, request: RecordedRequest) -> Reply:
        """Answer one timeline request."""
        if self.token and request.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(401, '{"error":"This API requires an authenticated user"}', "application/json")
        self.remaining -= 1
        headers = self._rate_limit_headers()
        if self.remaining < 0:
            return Reply(429, '{"error":"Too many requests"}', "application/json", headers)
        page = self.page(request)
        if page:
            newest, oldest = page[0]["id"], page[-1]["id"]
            headers["Link"] = (
                f'<{self.server.url(self.path)}?max_id={oldest}>; rel="next", '
                f'<{self.server.url(self.path)}?min_id={newest}>; rel="prev"'
            )
        return Reply(200, json.dumps(page, ensure_ascii=False), "application/json; charset=utf-8", headers)

    def page(self, request: RecordedRequest) -> list[dict[str, Any]]:
        """The statuses one request returns, newest first."""
        limit = int(request.param("limit") or 20)
        ordered = sorted(self.statuses, key=lambda status: id_key(status["id"]), reverse=True)
        min_id, max_id = request.param("min_id"), request.param("max_id")
        if min_id:
            newer = [s for s in ordered if id_key(s["id"]) > id_key(min_id)]
            return newer[-limit:]  # the statuses immediately newer than min_id
        if max_id:
            return [s for s in ordered if id_key(s["id"]) < id_key(max_id)][:limit]
        return ordered[:limit]

    def _rate_limit_headers(self) -> dict[str, str]:
        reset = datetime.now(UTC) + timedelta(seconds=self.reset_in)
        return {
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": str(max(self.remaining, 0)),
            "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
