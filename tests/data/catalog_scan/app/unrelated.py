"""send() calls that are not telemetry: the scanner must not report them."""

import socket


def ping_server(sock: socket.socket, queue: "Queue") -> None:
    sock.send(b"ping")
    queue.send("didNotATelemetryEvent")


class Queue:
    def send(self, message: str) -> None:
        print(message)
