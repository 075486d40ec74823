"""Streaming anomaly detectors for topic signals: volume, negative volume, negative share, coordination.

Every detector is causal (`update(t, ...)` uses only the past and the present bucket), raises at most
one alert per episode, and can be persisted with `state_dict()` / `from_state()`.
"""

from analysis.detectors.coordination import (
    CoordinationDetector,
    CoordinationEvidence,
    CoordinationParams,
    PostSignal,
)
from analysis.detectors.decision import Decision
from analysis.detectors.series import (
    DetectionSummary,
    Series,
    detect_csv,
    detect_series,
    read_series_csv,
    write_detections_csv,
)
from analysis.detectors.share import NegativeShareParams, NegativeShareShiftDetector
from analysis.detectors.volume import NegativeVolumeSpikeDetector, VolumeSpikeDetector, VolumeSpikeParams

__all__ = [
    "CoordinationDetector",
    "CoordinationEvidence",
    "CoordinationParams",
    "Decision",
    "DetectionSummary",
    "NegativeShareParams",
    "NegativeShareShiftDetector",
    "NegativeVolumeSpikeDetector",
    "PostSignal",
    "Series",
    "VolumeSpikeDetector",
    "VolumeSpikeParams",
    "detect_csv",
    "detect_series",
    "read_series_csv",
    "write_detections_csv",
]
