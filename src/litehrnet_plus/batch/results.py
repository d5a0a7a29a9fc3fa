"""The JSON that `predict` writes: one document per run, streamed as it is made.

JSON document (schema_version 1), one per run:

    {"schema_version": 1, "model": tag, "detector": name, "num_landmarks": K, "scheme": name,
     "coordinates": "0-based pixels, pixel centres at integers", "version": package version,
     "options": {"flip_test": bool, "max_faces": n | null, "threads": n | null, ...},
     "images": [{"file": rel. path, "width": W, "height": H, "faces": [FACE, ...]}, ...],   # images
     "video": path, "fps": f, "frames": [{"frame": i, "time": s, "width": W, "height": H,
                                          "faces": [FACE, ...]}, ...],                        # video
     "failures": [{"file": path, "error": message}, ...],
     "processed": n, "interrupted": false | "SIGINT" | "SIGTERM" | "error: ..."}

    FACE = {"box": [x1, y1, x2, y2], "score": s, "landmarks": [[x, y], ...] (K),
            "landmark_scores": [p, ...] (K), "roll": degrees, "quality": q in [0, 1],
            "track_id": n (video only),
            "head_pose": {"yaw", "pitch", "roll" (degrees), "rotation": 3x3, "translation": [x, y, z] mm}
                         (FaceLandmarker(head_pose=True), `--head-pose`, `monitor`),
            # the driver monitor's (`monitor`) additions:
            "eyes": {"left"|"right": {"aspect_ratio", "openness", "closed_probability"}},
            "mouth": {"aspect_ratio", "yawning"}}

`ResultsWriter` streams it: entries go to disk as they are made (memory stays bounded on a
stream that runs for hours) and every way a run ends, interruption included, leaves a valid
document holding exactly the entries made. A `.jsonl` path gives JSON Lines instead: a header
line, one line per image or frame (flushed, so another program can follow it live), and a last
line {"end": {...}} with the failures and the interruption state.
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import IO

import numpy as np

from ..inference.face import Face

SCHEMA_VERSION = 1
COORDINATES = "0-based pixels, pixel centres at integers"


def image_entry(file: str, image_shape: tuple[int, ...], faces: list[Face]) -> dict:
    return {"file": file, "width": int(image_shape[1]), "height": int(image_shape[0]),
            "faces": [f.to_dict() for f in faces]}


def frame_entry(index: int, image_shape: tuple[int, ...], faces: list[Face], t: float | None = None) -> dict:
    time = {} if t is None else {"time": round(float(t), 4)}
    return {"frame": int(index), **time, "width": int(image_shape[1]), "height": int(image_shape[0]),
            "faces": [f.to_dict() for f in faces]}


def document(model: str, detector: str, num_landmarks: int, scheme: str, **body) -> dict:
    """The top level of a results file; body holds images/failures or video/fps/frames/failures."""
    return {"schema_version": SCHEMA_VERSION, "model": model, "detector": detector,
            "num_landmarks": int(num_landmarks), "scheme": scheme, "coordinates": COORDINATES, **body}


# At most this many failures are listed; more are counted ("failures_not_listed"), so a camera
# that fails every frame for hours cannot fill the memory.
MAX_LISTED_FAILURES = 1000


class ResultsWriter:
    """Streams one results document (see the module doc) to `target`: a path (.json written to
    a hidden partial file beside it and renamed into place when closed; .jsonl appended live)
    or an open text stream (standard output). `entries_key` is "images" or "frames"."""

    def __init__(self, target: str | os.PathLike | IO[str], header: dict, entries_key: str) -> None:
        if entries_key not in ("images", "frames"):
            raise ValueError(f"entries_key must be 'images' or 'frames', got {entries_key!r}")
        self.key = entries_key
        self.path = None if hasattr(target, "write") else Path(target)
        self.lines = self.path is not None and self.path.suffix.lower() == ".jsonl"
        self.count = 0
        self.failures: list[dict] = []
        self.unlisted_failures = 0
        self.closed = False
        self._good = 0                  # file offset after the last whole piece written
        self._failed = False            # a write failed (a full disk): the document is incomplete
        if self.path is None:
            self._partial, self._file = None, target
        elif self.lines:
            # unbuffered bytes: what the OS took is known exactly, so a failed write can be undone
            self._partial, self._file = None, open(self.path, "wb", buffering=0)
        else:
            self._partial = self.path.with_name(f".{self.path.name}.partial")
            self._file = open(self._partial, "wb", buffering=0)
        if self.lines:
            self._emit(json.dumps({"header": header, "entries": entries_key}) + "\n")
        else:
            head = json.dumps(header)
            self._emit(head[:-1] + (", " if len(header) else "") + f'"{entries_key}": [')

    def _emit(self, text: str) -> None:
        """Write one whole piece (a line, an entry) or none of it: on a failed write (a full
        disk) the file is cut back to the end of the last whole piece, so a .jsonl never holds
        a torn line, and the error names the file."""
        if self.path is None:
            self._file.write(text)
            self._file.flush()
            return
        data = memoryview(text.encode("utf-8"))
        try:
            while data:
                data = data[self._file.write(data):]
        except OSError as e:
            self._failed = True
            with contextlib.suppress(OSError):
                os.ftruncate(self._file.fileno(), self._good)
                os.lseek(self._file.fileno(), self._good, os.SEEK_SET)
            raise OSError(e.errno, f"{self.path}: cannot write results ({e.strerror or e}); "
                                   f"the {self.count} entries before are kept") from None
        self._good = os.lseek(self._file.fileno(), 0, os.SEEK_CUR)

    def add(self, entry: dict) -> None:
        if self.lines:
            self._emit(json.dumps(entry) + "\n")
        else:
            self._emit(("," if self.count else "") + "\n  " + json.dumps(entry))
        self.count += 1

    def fail(self, file: str, error: str) -> None:
        if len(self.failures) < MAX_LISTED_FAILURES:
            self.failures.append({"file": file, "error": error})
        else:
            self.unlisted_failures += 1

    def close(self, interrupted: str | bool = False, **extra) -> None:
        """Finish the document (failures, counts, how the run ended) and put it in place. After a
        failed write (a full disk) a .json goes to `<name>.incomplete.json` instead, ended at its
        last whole entry (with its end when there was room for it); a .jsonl keeps its whole
        lines, and a reader sees an unfinished run when the end line did not fit."""
        if self.closed:
            return
        self.closed = True
        tail = {**extra, "failures": self.failures, "processed": self.count, "interrupted": interrupted}
        if self.unlisted_failures:
            tail["failures_not_listed"] = self.unlisted_failures
        try:
            if self.lines:
                self._emit(json.dumps({"end": tail}) + "\n")
            else:
                self._emit("\n], " + json.dumps(tail)[1:] + "\n")
            if self.path is None:
                return
            os.fsync(self._file.fileno())
        except OSError:
            if self.path is not None:
                self._abandon()
            raise
        if self._failed:
            self._abandon()
            return
        self._file.close()
        if self._partial is not None:
            os.replace(self._partial, self.path)

    def _abandon(self) -> None:
        """The document could not be finished: keep what was written under a name that says so."""
        with contextlib.suppress(OSError):
            self._file.close()
        if self._partial is not None:
            incomplete = self.path.with_name(f"{self.path.stem}.incomplete{self.path.suffix}")
            with contextlib.suppress(OSError):
                os.replace(self._partial, incomplete)


def read_results(path: str | os.PathLike) -> dict:
    """A results file written by `predict` (.json or .jsonl) as one document."""
    p = Path(path)
    if p.suffix.lower() != ".jsonl":
        return json.loads(p.read_text(encoding="utf-8"))
    text = p.read_text(encoding="utf-8")
    raw = [line for line in text.splitlines() if line.strip()]
    if raw and not text.endswith("\n"):
        raw.pop()                   # a torn last line (a writer killed mid-line): not a result
    lines = [json.loads(line) for line in raw]
    if not lines or "header" not in lines[0]:
        raise ValueError(f"{p}: not a results JSON Lines file (no header line)")
    doc = dict(lines[0]["header"])
    end = lines[-1].get("end") if len(lines) > 1 else None
    doc[lines[0]["entries"]] = [entry for entry in lines[1:len(lines) - (end is not None)]]
    doc.update(end or {"failures": [], "processed": len(doc[lines[0]["entries"]]), "interrupted": "unfinished"})
    return doc


def validate(doc: dict) -> None:
    """Raise ValueError naming the first problem if `doc` does not follow the schema."""
    def need(cond: bool, what: str) -> None:
        if not cond:
            raise ValueError(f"results JSON: {what}")

    need(isinstance(doc, dict) and doc.get("schema_version") == SCHEMA_VERSION,
         f"schema_version must be {SCHEMA_VERSION}")
    for key in ("model", "detector", "scheme"):
        need(isinstance(doc.get(key), str), f"{key!r} must be a string")
    k = doc.get("num_landmarks")
    need(isinstance(k, int) and k > 0, "'num_landmarks' must be a positive integer")
    need(("images" in doc) != ("frames" in doc), "exactly one of 'images' or 'frames' is required")
    need(isinstance(doc.get("failures", []), list), "'failures' must be a list")
    entries = doc.get("images", doc.get("frames"))
    need(isinstance(entries, list), "'images'/'frames' must be a list")
    if "processed" in doc:
        need(doc["processed"] == len(entries), f"'processed' is {doc['processed']} but {len(entries)} entries are listed")
    for i, e in enumerate(entries):
        where = f"entry {i}"
        need(isinstance(e, dict), f"{where} is not an object")
        need(isinstance(e.get("file" if "images" in doc else "frame"), str if "images" in doc else int),
             f"{where}: missing 'file'/'frame'")
        need(all(isinstance(e.get(d), int) and e[d] > 0 for d in ("width", "height")), f"{where}: bad width/height")
        need(isinstance(e.get("faces"), list), f"{where}: 'faces' must be a list")
        for j, f in enumerate(e["faces"]):
            need(isinstance(f.get("box"), list) and len(f["box"]) == 4, f"{where} face {j}: box must be 4 numbers")
            need(isinstance(f.get("score"), (int, float)), f"{where} face {j}: score must be a number")
            pts = np.asarray(f.get("landmarks"), dtype=np.float64)
            need(pts.shape == (k, 2) and bool(np.all(np.isfinite(pts))), f"{where} face {j}: landmarks must be {k}x2")
            need(len(f.get("landmark_scores", [])) == k, f"{where} face {j}: landmark_scores must have {k} values")
            need(isinstance(f.get("track_id", 0), int), f"{where} face {j}: track_id must be an integer")
            need(0 <= f.get("quality", 0) <= 1, f"{where} face {j}: quality must be in [0, 1]")


def finished_entries(path: str | os.PathLike) -> list[dict]:
    """The entries a results file (.json or .jsonl) already holds, whatever ended its run: a
    finished or interrupted document, a .jsonl cut anywhere, or the hidden partial (or the
    `.incomplete.json`) a .json run killed outright leaves; a torn last entry is not one."""
    p = Path(path)
    if p.suffix.lower() == ".jsonl":
        if not p.is_file():
            return []
        doc = read_results(p)
        return list(doc.get("images", doc.get("frames", [])))
    if p.is_file():
        doc = json.loads(p.read_text(encoding="utf-8"))
        return list(doc.get("images", doc.get("frames", [])))
    for partial in (p.with_name(f".{p.name}.partial"), p.with_name(f"{p.stem}.incomplete{p.suffix}")):
        if partial.is_file():
            return _entries_of_partial(partial.read_text(encoding="utf-8"))
    return []


def _entries_of_partial(text: str) -> list[dict]:
    """Entries of a .json document the writer never finished: each stands on its own line
    after the header, `  {...}` with a comma before the next."""
    out = []
    for line in text.split("\n  ")[1:]:
        piece = line.split("\n], ")[0].rstrip().rstrip(",")
        try:
            entry = json.loads(piece)
        except json.JSONDecodeError:
            break                           # the torn last one
        if isinstance(entry, dict):
            out.append(entry)
    return out
