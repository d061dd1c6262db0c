#!/usr/bin/env python3
"""A client for the demo game server (config/demo.lua), in plain Python.

It speaks the gate's framing: each packet is a 2-byte big-endian length and
then that many bytes. Commands: join NAME, score N, say TEXT, stats, quit.

    python examples/client.py [HOST] [PORT]              # type commands
    python examples/client.py 127.0.0.1 8888 "join ann" "score 5" stats quit
"""

from __future__ import annotations

import socket
import struct
import sys
import threading


def send_packet(sock: socket.socket, text: str) -> None:
    data = text.encode()
    sock.sendall(struct.pack(">H", len(data)) + data)


def receive_exactly(sock: socket.socket, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def receive_packet(sock: socket.socket) -> str | None:
    header = receive_exactly(sock, 2)
    if header is None:
        return None
    (size,) = struct.unpack(">H", header)
    body = receive_exactly(sock, size)
    return None if body is None else body.decode(errors="replace")


def print_packets(
    sock: socket.socket, answers: threading.Semaphore, quitting: threading.Event
) -> None:
    """Prints every packet; news ("* ...") any time, answers as they come."""
    while (packet := receive_packet(sock)) is not None:
        print(packet, flush=True)
        if not packet.startswith("* "):
            answers.release()
    if not quitting.is_set():
        print("(the server closed the connection)", flush=True)
    answers.release()


def main(argv: list[str]) -> int:
    if len(argv) > 1 and argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0
    host = argv[1] if len(argv) > 1 else "127.0.0.1"
    port = int(argv[2]) if len(argv) > 2 else 8888
    scripted = argv[3:]
    try:
        sock = socket.create_connection((host, port))
    except OSError as exc:
        print(f"client: cannot connect to {host}:{port}: {exc}", file=sys.stderr)
        return 1
    answers = threading.Semaphore(0)
    quitting = threading.Event()
    reader = threading.Thread(target=print_packets, args=(sock, answers, quitting), daemon=True)
    reader.start()
    commands = scripted or iter(lambda: input("> "), None)
    try:
        for command in commands:
            if not command.strip():
                continue
            if command.strip() == "quit":
                quitting.set()
            send_packet(sock, command)
            answers.acquire()  # one answer per command
            if command.strip() == "quit":
                break
    except (EOFError, KeyboardInterrupt):
        pass
    except OSError as exc:
        print(f"client: {exc}", file=sys.stderr)
        return 1
    sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
