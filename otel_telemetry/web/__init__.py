"""The local events viewer: a JSON API over the SQLite store plus one static page."""

from .server import WebViewer

__all__ = ["WebViewer"]
