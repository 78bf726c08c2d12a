"""A real ``python -m resnetlab serve`` process on a free port: SIGTERM or Ctrl-C stops it
within 2 s with exit code 0, and a request in flight at that moment still gets its whole
answer. Also the body limit on a real chunked upload, which only a real socket streams."""

from __future__ import annotations

import io
import json
import select
import signal
import socket
import time

import pytest
from PIL import Image

MODEL = "resnet20-untrained"
PREDICT = f"/v1/models/{MODEL}/predict"


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 90)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def server(serve_process):
    process, url = serve_process(f"untrained:{MODEL[:-10]}", "--threads", "1",
                                 "--max-upload-mb", "1")
    return process, int(url.rsplit(":", 1)[1])


def read_response(sock: socket.socket, timeout: float = 5) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        data += chunk
    return data


def parse(raw: bytes) -> tuple[int, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    assert len(body) == length, "the answer was cut short"
    return status, json.loads(body)


def test_a_real_chunked_upload_over_the_limit_is_413(server):
    _, port = server
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(f"POST {PREDICT} HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n".encode())
        chunk, sent, answer = bytes(64 * 1024), 0, b""
        while sent < 50 * 2**20:  # 50 MB offered, in 64 kB chunks, no Content-Length
            if select.select([sock], [], [], 0)[0]:
                answer = read_response(sock)
                break
            try:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                answer = read_response(sock)
                break
            sent += len(chunk)
    status, body = parse(answer)
    assert status == 413 and "1 MB" in body["error"]
    assert sent < 10 * 2**20  # refused long before the end


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_ends_the_server_cleanly_within_two_seconds(server, stop):
    process, port = server
    body = png()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        # A request in flight: headers and half the body sent, the rest after the signal.
        sock.sendall(f"POST {PREDICT}?top_k=3 HTTP/1.1\r\nHost: t\r\nContent-Type: image/png"
                     f"\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body[:100])
        time.sleep(0.3)
        start = time.monotonic()
        process.send_signal(stop)
        time.sleep(0.3)
        sock.sendall(body[100:])
        status, answer = parse(read_response(sock))
    assert status == 200 and len(answer["top"]) == 3  # finished, not cut off
    process.wait(timeout=10)
    elapsed = time.monotonic() - start
    out, err = process.communicate()
    assert process.returncode == 0, err
    print(f"stopped in {elapsed:.2f} s")
    assert elapsed < 2.0, f"took {elapsed:.2f} s to stop"
    assert f"at http://127.0.0.1:{port}" in out and "Traceback" not in err
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
