"""复盘 case library: resolved incidents kept with their timeline, actions, outcome and lessons."""
