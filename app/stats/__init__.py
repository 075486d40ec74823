"""A topic over a window, in one home: the rollups, their maintenance, and every read of them.

models.py    Rollup, HourlyRollup, DailyRollup and their distinct-member rows (tables `rollups`,
             `rollups_1h`, `rollups_1d`, `rollup_members`, `rollup_members_1h`, `rollup_members_1d`)
rollups.py   grains and `bucket_start`; maintenance: `on_stored` (the pipeline hook, wired before
             the alert engine's in app/runtime/container.py), `apply`, `relabel` (a correction), `rebuild`
             (a re-tag), `prune_members` (retention) and `lock_topics`, the topics' shared locks
queries.py   stored buckets of a grain, 5-minute series and sums, distinct members, every topic at once
trends.py    trends with zeros filled and the gaps where a source of the topic was failing
insights.py  what the posts of a window say: keywords, burst terms, near-duplicate clusters
schemas.py   response bodies of keywords and clusters

Reads posts (`app.posts`) and sources (`app.sources`); read by alerts, channels, reports and topics.
"""
