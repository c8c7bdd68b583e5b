"""An ASGI app reporting `didReceiveRequest` {url, success, statusCode}, capped per day as Strapi does.

Runs under uvicorn (`pip install uvicorn`). `python examples/asgi_app.py` serves on a free port,
makes a few requests to itself and exits; `uvicorn examples.asgi_app:app` serves it normally.
Any ASGI framework (Starlette, FastAPI, Django) is wrapped the same way.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import otel_telemetry
from otel_telemetry.integrations import TelemetryASGIMiddleware


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    found = scope["path"].startswith("/api/articles")
    await send(
        {
            "type": "http.response.start",
            "status": 200 if found else 404,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": b'[{"id": 1}]' if found else b"{}"})


app = TelemetryASGIMiddleware(application, daily_cap=1000)


def main() -> int:
    try:
        import uvicorn
    except ImportError:
        print("this example needs uvicorn: pip install uvicorn")
        return 2
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    for path in ("/api/articles", "/api/articles/1", "/missing"):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}") as response:
                print(path, response.status)
        except urllib.error.HTTPError as error:
            print(path, error.code)
    server.should_exit = True
    thread.join(10)
    sock.close()
    return 0 if otel_telemetry.flush(10) else 1


if __name__ == "__main__":
    raise SystemExit(main())
