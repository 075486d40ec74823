"""Alerts: detectors over the rollups (`app.stats`), graded alerts, incidents and silences.

models.py      DetectorState, Alert, Incident, IncidentEvent, Silence
detection.py   which detectors run, what they are fed, their persisted state and replays
engine.py      AlertEngine: the pipeline hook after the rollups', judging topics, raising alerts
incidents.py   incident lifecycle, timeline, notices written in the caller's transaction
hotlist.py     the snapshot hook: a topic reaching a 热搜/热榜 list
silences.py    which silences are in force and which covers a topic and grade
story.py       an incident's story (timeline with the posts behind it)
service.py     read models for incidents, backtests over stored rollups
router.py schemas.py   the HTTP API: alerts, incidents, silences (a topic's trend and backtest
               routes are `app/topics/views.py`)
"""
