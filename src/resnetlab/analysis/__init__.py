"""Looking inside networks: per-layer summaries, parameter and MAC counts."""

from resnetlab.analysis.macs import count_macs
from resnetlab.analysis.summary import (
    Summary,
    SummaryRow,
    count_macs_total,
    count_params,
    summary,
)

__all__ = ["Summary", "SummaryRow", "count_macs", "count_macs_total", "count_params", "summary"]
