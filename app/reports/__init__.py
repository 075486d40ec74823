"""舆情简报: per-topic day/week reports in Markdown and HTML, with an SVG trend chart.

periods.py   report periods: a day or a week in China time
service.py   build_report: a topic's report for a window (rollups for counts, posts for samples)
document.py  a report as simple blocks, shared by both renderers
render.py    blocks as Markdown or as a standalone HTML page
chart.py     the trend chart as self-contained SVG
schedule.py  when a channel's reports are due (pure; the schedule itself is
             app/channels/report_schedule.py)
delivery.py  the `scheduled-reports` job: due reports into the outbox as notices of kind `report`

The HTTP route of a report is `app/topics/views.py`; the CLI's is `app/cli/reports.py`.
"""
