"""MediaPipe Face Mesh in a process of its own, driven over a pipe by `bench --mode video`.

MediaPipe 0.10.21 (the last with the legacy Face Mesh solution) needs numpy<2, so it lives in
an environment of its own; this file imports nothing of the package and runs with that
environment's Python:

    /path/to/mediapipe-env/bin/python .../benchmarks/facemesh_worker.py

Protocol (binary, on stdin/stdout): every message is a 4-byte little-endian length and a JSON
header, optionally followed by a raw payload of the length the header names.
  {"cmd": "frames", "n", "height", "width"} + n*h*w*3 uint8 BGR bytes: keep these frames
  {"cmd": "images", "n"} + for each: {"height", "width"} header + bytes: static images in
  {"cmd": "track", "keep": bool}: run Face Mesh in tracking mode over the kept frames
  {"cmd": "quit"}
Replies: {"ok": true, "seconds", "cpu_seconds", "points": [...] (with keep, or for images:
(n, 468, 2) pixels, NaN where no face)} or {"ok": false, "error"}.
"""
from __future__ import annotations

import json
import os
import struct
import sys
import time

# run as a script, its folder is first on the path, where the package's own modules would
# shadow the libraries of the environment
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]


def read_message(stream) -> dict | None:
    head = stream.read(4)
    if len(head) < 4:
        return None
    (size,) = struct.unpack("<I", head)
    return json.loads(stream.read(size))


def write_message(stream, message: dict) -> None:
    body = json.dumps(message).encode()
    stream.write(struct.pack("<I", len(body)) + body)
    stream.flush()


def points_of(result, width: int, height: int) -> list:
    if not result.multi_face_landmarks:
        return [[float("nan"), float("nan")]] * 468
    marks = result.multi_face_landmarks[0].landmark
    return [[p.x * width - 0.5, p.y * height - 0.5] for p in marks[:468]]   # pixel centres at integers


def main() -> int:
    import numpy as np
    from mediapipe.python.solutions import face_mesh

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    frames = []
    while True:
        msg = read_message(stdin)
        if msg is None or msg.get("cmd") == "quit":
            return 0
        try:
            if msg["cmd"] == "frames":
                n, h, w = msg["n"], msg["height"], msg["width"]
                data = np.frombuffer(stdin.read(n * h * w * 3), np.uint8).reshape(n, h, w, 3)
                frames = [np.ascontiguousarray(f[:, :, ::-1]) for f in data]      # MediaPipe takes RGB
                write_message(stdout, {"ok": True, "frames": n})
            elif msg["cmd"] == "track":
                mesh = face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1, refine_landmarks=False)
                keep = bool(msg.get("keep"))
                points = []
                start, cpu = time.perf_counter(), time.process_time()
                for f in frames:
                    res = mesh.process(f)
                    if keep:
                        points.append(points_of(res, f.shape[1], f.shape[0]))
                seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
                mesh.close()
                write_message(stdout, {"ok": True, "seconds": seconds, "cpu_seconds": cpu_seconds,
                                       "points": points if keep else None})
            elif msg["cmd"] == "images":
                mesh = face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=False)
                points = []
                for _ in range(msg["n"]):
                    head = read_message(stdin)
                    h, w = head["height"], head["width"]
                    img = np.frombuffer(stdin.read(h * w * 3), np.uint8).reshape(h, w, 3)
                    points.append(points_of(mesh.process(np.ascontiguousarray(img[:, :, ::-1])), w, h))
                mesh.close()
                write_message(stdout, {"ok": True, "points": points})
            else:
                write_message(stdout, {"ok": False, "error": f"unknown command {msg['cmd']!r}"})
        except Exception as e:                       # reported to the driver, which decides
            write_message(stdout, {"ok": False, "error": f"{type(e).__name__}: {e}"})


if __name__ == "__main__":
    raise SystemExit(main())
