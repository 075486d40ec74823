"""The analysts' dashboard and the API reference: router.py serves the static pages and their vendored
assets (static/) under a strict CSP."""
