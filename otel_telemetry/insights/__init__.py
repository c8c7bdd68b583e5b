"""Insights: answers to product questions (trends, breakdown, funnel, retention) from stored
events, with the same queries on the local SQLite store, chDB and a ClickHouse server.

``docs/insights.md`` documents the questions and the JSON shapes of the answers.
"""

from .breakdown import breakdown
from .errors import InsightsError
from .funnel import funnel
from .retention import retention
from .sources import Source, open_source
from .trends import trends

__all__ = ["InsightsError", "Source", "breakdown", "funnel", "open_source", "retention", "trends"]
