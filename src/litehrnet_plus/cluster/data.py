"""Landmarks as a Ray Data stage: `landmarks_dataset(ds)` maps a dataset of images (paths or
arrays) to the same rows with their faces, on stateful actors (one `FaceLandmarker` each,
loaded once), the way Ray Data runs batch inference.

    import ray
    from litehrnet_plus.cluster import landmarks_dataset

    ds = ray.data.from_items([{"path": p} for p in paths])         # or rows with an "image" array
    ds = landmarks_dataset(ds, model="litehrnet_plus_10m.300w", concurrency=4, head_pose=True)
    for row in ds.iter_rows():
        row["faces"]          # [{"box", "score", "landmarks", "landmark_scores", "roll", "quality",
                              #   "head_pose"?}, ...] as in predict's JSON; [] when there is none
        row["error"]          # "" or why the image failed (unreadable, corrupt...): the run goes on

Rows keep every column they came with; "width" and "height" are added. Ray retries the batch
of a worker that dies (its actor is restarted), so a killed node costs time, not results.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..batch.predict import ITEM_ERRORS, Options, error_text, landmark_image
from ..batch.results import image_entry
from ..extras import require
from ..inference.landmarker import FaceLandmarker, check_max_faces, check_min_quality, load_image


class LandmarkWorker:
    """A Ray Data actor: one FaceLandmarker (built from `settings`, FaceLandmarker's keyword
    arguments) for its whole life; each batch's images in, their faces out. Rows with a "path"
    are read from disk (and, with an "out" path, get their overlay written there atomically);
    rows with an "image" are used as they are."""

    def __init__(self, settings: dict[str, Any], options: Options) -> None:
        self.landmarker = FaceLandmarker(**settings)
        self.options = options

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = len(next(iter(batch.values())))
        faces, widths, heights, errors = [], [], [], []
        for i in range(n):
            try:
                entry = self._one(batch, i)
                faces.append(entry["faces"])
                widths.append(entry["width"])
                heights.append(entry["height"])
                errors.append("")
            except ITEM_ERRORS as e:
                faces.append([])
                widths.append(0)
                heights.append(0)
                errors.append(error_text(e))
        out = dict(batch)
        out.update(faces=_objects(faces), width=np.array(widths, np.int64), height=np.array(heights, np.int64),
                   error=np.array(errors, dtype=object))
        return out

    def _one(self, batch: dict[str, np.ndarray], i: int) -> dict:
        if "path" in batch:
            path = Path(str(batch["path"][i]))
            name = str(batch["name"][i]) if "name" in batch else str(path)
            out = str(batch["out"][i]) if "out" in batch and batch["out"][i] else None
            entry, _ = landmark_image(self.landmarker, path, name, None if out is None else Path(out), self.options)
            return entry
        image = load_image(np.asarray(batch["image"][i]))
        faces = self.landmarker.detect(image, max_faces=self.options.max_faces, min_quality=self.options.min_quality)
        return image_entry("", image.shape, faces)


def _objects(items: list) -> np.ndarray:
    """A column of Python objects (lists of face dicts), one per row."""
    col = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        col[i] = item
    return col


def landmarks_dataset(ds, model: str | None = None, *, concurrency: int = 1, batch_size: int = 8,
                      head_pose: bool = False, max_faces: int | None = None, min_quality: float | None = None,
                      boxes: bool = False, overwrite: bool = False, **landmarker_options):
    """`ds` (a Ray Dataset whose rows have a "path" or an "image") with each row's faces added
    (see the module doc), computed by `concurrency` actors of one CPU each, `batch_size` images
    a call. landmarker_options: FaceLandmarker's other keyword arguments (detector,
    orientations, min_face, backend, focal, flip_test); threads defaults to 1 per actor."""
    check_max_faces(max_faces)
    check_min_quality(min_quality)
    settings = {"model": model, "head_pose": head_pose, "threads": 1, **landmarker_options}
    FaceLandmarker(**settings)          # a bad setting is refused here, before any actor starts
    options = Options(max_faces=max_faces, min_quality=min_quality, boxes=boxes, overwrite=overwrite)
    ray = require("ray", "landmarks_dataset")
    return ds.map_batches(LandmarkWorker, fn_constructor_kwargs={"settings": settings, "options": options},
                          batch_size=batch_size, compute=ray.data.ActorPoolStrategy(size=concurrency), num_cpus=1,
                          batch_format="numpy")
