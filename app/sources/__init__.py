"""Sources: what is collected, each run's record, and each source's health.

models.py    Source, SourceRun, HotListEntry (what we collect from, every run, the hot-list ledger)
service.py   source CRUD and health bookkeeping (next run, failures, back-off); never commits
collect.py   collect-now from an API process: make a source due and wait for a worker's run
health.py    a source's health in terms a user can act on (causes named by collectors/health.py)
presets.py   platform presets: a source by platform and parameter instead of a URL
hotlist.py   the hot-list ledger (热搜/热榜): ranked snapshots and what entered, rose or left
router.py schemas.py   the HTTP API: CRUD, from-preset, collect-now, runs, hot-list entries

The collection run itself is `Pipeline.collect` (app/pipeline.py), fetching through collectors/.
"""
