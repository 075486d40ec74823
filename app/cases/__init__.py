"""复盘 case library: resolved incidents kept with their timeline, actions, outcome and lessons.

models.py    Case, the case table
service.py   a case from a resolved incident; read, search and edit (the caller owns the transaction)
export.py    a case as a 复盘 document in Markdown
router.py schemas.py   the HTTP API (/api/v1/cases)
"""
