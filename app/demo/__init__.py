"""The demo: real Chinese posts about a fictional brand, a negative burst, a graded incident and a
local webhook sink — loaded through the real pipeline by `yuqing demo`."""
