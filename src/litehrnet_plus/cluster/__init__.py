"""Scale-out on Ray (extra `ray`): `predict --ray` over a folder, a list file or many videos,
and `landmarks_dataset` for pipelines already in Ray Data. One `FaceLandmarker` per actor,
loaded once; results written by the driver in input order, overlays by the workers atomically;
an interrupted run resumed skips what is done."""
from __future__ import annotations

from .data import landmarks_dataset

__all__ = ["landmarks_dataset"]
