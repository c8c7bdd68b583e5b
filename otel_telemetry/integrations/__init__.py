"""Ready-made senders: request middleware (WSGI, ASGI) and the daily ``ping`` heartbeat."""

from .asgi import TelemetryASGIMiddleware
from .heartbeat import Heartbeat
from .request_events import DailyCap, RequestEvents
from .wsgi import TelemetryWSGIMiddleware

__all__ = ["DailyCap", "Heartbeat", "RequestEvents", "TelemetryASGIMiddleware", "TelemetryWSGIMiddleware"]
