"""A running Yuqing process: the HTTP application, the process container, the background jobs.

Depends on every domain package; no domain imports it (the CLI in app/cli starts it).

application.py     create_app: the FastAPI application, ROUTERS mounted in one list, /healthz, /readyz
container.py       Services: database, pipeline, alert engine, fetcher, dispatcher and jobs of one
                   process, wired once; `start(role)` / `stop()`; the jobs each role runs (ROLES)
jobs.py            CollectionWorker (claims due sources with a lease), SchedulerLock (one scheduler
                   process on PostgreSQL), build_scheduler (APScheduler interval jobs)
server.py          run_server: role checks, bind the port, migrate SQLite, check secrets, uvicorn
secrets.py         verify (every stored secret opens, checked at start) and rotate (to a new key)
metrics_router.py  GET /metrics: the process metrics (app/core/metrics.py) with live queue gauges
"""
