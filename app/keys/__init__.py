"""API keys: who may call the API and with which scope.

models.py    ApiKey rows, stored hashed
service.py   create, verify and revoke keys (the caller owns the transaction)
auth.py      who is calling: a request's bearer key checked against the stored keys (installed as
             `app.state.authenticate` by app/runtime/application.py, asked by app/core/deps.py)
limiter.py   the limit on failed authentications per client (token bucket, in memory per process)
router.py    the HTTP API for keys (admin scope)
"""
