"""舆情简报: per-topic day/week reports in Markdown and HTML, with an SVG trend chart."""
