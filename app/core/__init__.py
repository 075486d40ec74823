"""Infrastructure every domain package uses; core imports no domain package.

config.py     Settings (YUQING_* environment variables), the one place that reads os.environ
db.py         Database (engine, sessions), Base, column types, utcnow
migrate.py    Alembic upgrade used by the CLI, `serve` and the tests
deps.py       FastAPI dependencies: session per request, ReadKey / WriteKey / AdminKey scope checks
              (who calls is asked of `app.state.authenticate`, installed by app/runtime/application.py)
api.py        shared pieces of the read API: error responses in OpenAPI, ids, time windows, streamed
              CSV/JSONL exports
errors.py     the API's one error shape and the domain errors that map onto it
locks.py      every PostgreSQL advisory lock key and the one order they are taken in
leases.py     shared work (sources, push batches, deliveries): owner id, claim (SKIP LOCKED + lease),
              release, and the jittered exponential backoff of failed work, from settings
outage.py     one log line when background work loses the database, one when it is back
bulk.py       bulk statements that stay fast on PostgreSQL (array parameters), dialect inserts
secrets.py    the keyring and the encrypted column types
masking.py    credentials as the API shows them, and masked values sent back
urls.py       SSRF guard for user-given URLs and every connection, the outgoing HTTP client
body_limit.py the request body limit, on the byte stream
metrics.py    this process's Prometheus metrics (exposed by app/runtime/metrics_router.py)
logging.py    logging set-up (text or JSON lines)
vocab.py      the app's vocabularies (StrEnums whose values are stored)
"""
