"""Prometheus metrics of this process; GET /metrics (app/runtime/metrics_router.py) adds live gauges."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

POSTS_STORED = Counter("yuqing_posts_stored", "New posts stored, by source", ["source"], registry=REGISTRY)
POSTS_QUEUED = Counter(
    "yuqing_posts_queued",
    "Pushed posts queued for a worker's analysis (API processes that queue pushes), by source",
    ["source"],
    registry=REGISTRY,
)
POSTS_DUPLICATE = Counter(
    "yuqing_posts_duplicate",
    "Posts already stored (idempotent re-collection), by source",
    ["source"],
    registry=REGISTRY,
)
POSTS_REJECTED = Counter(
    "yuqing_posts_rejected",
    "Pushed or imported posts rejected by validation, by source",
    ["source"],
    registry=REGISTRY,
)
COLLECTOR_RUNS = Counter(
    "yuqing_collector_runs",
    "Collection runs, by source kind and status",
    ["kind", "status"],
    registry=REGISTRY,
)
COLLECTOR_ERRORS = Counter(
    "yuqing_collector_errors",
    "Collection errors, by source and error type",
    ["source", "error"],
    registry=REGISTRY,
)
COLLECT_SECONDS = Histogram(
    "yuqing_collect_duration_seconds",
    "Duration of collection runs, by source kind",
    ["kind"],
    registry=REGISTRY,
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
ANALYSED = Counter(
    "yuqing_analysis_posts",
    "Posts analysed (normalise, segment, sentiment, keywords, simhash)",
    registry=REGISTRY,
)
ANALYSIS_SECONDS = Histogram(
    "yuqing_analysis_batch_seconds",
    "Time to analyse one batch of posts",
    registry=REGISTRY,
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
ALERTS = Counter("yuqing_alerts", "Alerts raised, by grade", ["grade"], registry=REGISTRY)
DELIVERY_ATTEMPTS = Counter(
    "yuqing_delivery_attempts",
    "Delivery attempts, by channel kind and outcome",
    ["channel", "outcome"],
    registry=REGISTRY,
)
DELIVERY_FAILURES = Counter(
    "yuqing_delivery_failures",
    "Deliveries given up (permanent error or too old), by channel",
    ["channel"],
    registry=REGISTRY,
)
AUTH_FAILURES = Counter(
    "yuqing_auth_failures",
    "Failed API authentications, by reason: missing (no key sent), invalid (unknown or revoked key), "
    "limited (refused with 429 before any lookup: the client failed too often)",
    ["reason"],
    registry=REGISTRY,
)
