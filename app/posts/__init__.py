"""Posts: admission, analysis, storage with topic tags, the push queue, search and corrections.

models.py        Post, PostTopic (a post's topic tags), SentimentCorrection, and Topic (the
                 monitored topic row; managing topics is `app/topics/`)
admission.py     what a post may carry into storage (time, counts)
validation.py    pushed and imported items validated one by one, then admitted
analyzer.py      the process's analyser: tokenizer, sentiment model, compiled topic rules
ingest.py        idempotent storage of a batch: dedupe, analyse, insert, tag topics (StoredPost)
clusters.py      near-duplicate clusters kept in the database
queue.py         pushes accepted by an API process, waiting for a worker
search.py search_index.py   post search (bigram index) and streamed exports
corrections.py   analysts' sentiment corrections; their effect on rollups and detectors comes
                 through the relabel hooks the caller passes (app/runtime/container.py)
retention.py     pruning raw posts older than the retention period
router.py search_router.py schemas.py search_schemas.py   the HTTP API: push; search, export,
                 one post, a correction
"""
