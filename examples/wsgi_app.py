"""A WSGI app reporting `didReceiveRequest` {url, success, statusCode}, capped per day as Strapi does.

`python examples/wsgi_app.py` serves on a free port, makes a few requests to itself and exits;
`python examples/wsgi_app.py --serve 8000` keeps serving. Any WSGI server works the same way
(gunicorn: `gunicorn examples.wsgi_app:app`).
"""

from __future__ import annotations

import argparse
import threading
import urllib.error
import urllib.request
from collections.abc import Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import otel_telemetry
from otel_telemetry.integrations import TelemetryWSGIMiddleware


def application(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "/")
    if path.startswith("/api/articles"):
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'[{"id": 1, "title": "Hello"}]']
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found"]


# Strapi sends at most 1,000 didReceiveRequest events per day per process.
app = TelemetryWSGIMiddleware(application, daily_cap=1000)


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", type=int, metavar="PORT", help="keep serving on this port")
    args = parser.parse_args()
    server = make_server("127.0.0.1", args.serve or 0, app, handler_class=QuietHandler)
    if args.serve:
        print(f"serving on http://127.0.0.1:{args.serve}/api/articles")
        server.serve_forever()
        return 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    for path in ("/api/articles", "/api/articles?page=2", "/missing", "/favicon.ico"):
        try:
            with urllib.request.urlopen(base + path) as response:
                print(path, response.status)
        except urllib.error.HTTPError as error:
            print(path, error.code)
    server.shutdown()
    server.server_close()
    return 0 if otel_telemetry.flush(10) else 1


if __name__ == "__main__":
    raise SystemExit(main())
