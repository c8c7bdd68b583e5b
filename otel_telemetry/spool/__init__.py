"""Durable delivery: a disk spool between the queue and the collector (``docs/delivery.md``)."""

from .settings import DeliverySettings, SpoolSettings, resolve_delivery
from .spool import Spool

__all__ = ["DeliverySettings", "Spool", "SpoolSettings", "resolve_delivery"]
