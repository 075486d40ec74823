"""The demo: real Chinese posts about a fictional brand, a negative burst, a graded incident and a
local webhook sink — loaded through the real pipeline by `yuqing demo`.

sample.py    the bundled sample of real Weibo texts (data/, see data/PROVENANCE.md)
derive.py    how that sample was derived from ../shared/data/sentiment
timeline.py  the posts laid on a timeline (pure: texts, times and a seeded RNG in, push dicts out)
loader.py    load and remove the demo through the real pipeline (topic, sources, channel, history,
             the burst)
sink.py      the local webhook sink: the signed message a real receiver would get
router.py    the demo's routes
"""
