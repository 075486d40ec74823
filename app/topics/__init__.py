"""Topics (监测方案): managing them, and every HTTP view of a topic or of all topics at once.

service.py   rule compilation, create/update/delete, preview, re-tag (the topic row itself is
             `app/posts/models.py` `Topic`, below everything that reads it)
router.py    /api/v1/topics: CRUD, preview, sentiment quality
views.py     /topics/{id}/trend, /trend/export, /backtest, /keywords, /clusters,
             /reports/topics/{id}, /overview and /compare — each asking the owning domain
overview.py  every topic's current volume, negative share and open incidents, and source health
compare.py   topics side by side (竞品对比) and a topic's make-up over the last day
schemas.py   request and response bodies (topics, overview, comparison)

The top of the domain packages: it reads posts, stats, alerts and reports; none of them imports it.
"""
