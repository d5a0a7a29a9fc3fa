"""The Surrey Face Model (a 3D morphable face model) and its fit to a face's 68 points, via eos.

The model's files are research data (never shipped with the package): the folder is given by
the caller (`../shared/data/sfm` in this project's layout; the files are published with the eos
library). The fit is eos's `fit_shape_and_pose`: scaled orthographic pose, 63 shape modes, 6
expression blendshapes, the jaw fitted to the model's contour.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..extras import require
from .geometry import JAW_POINTS, face_angles

FILES = {"shape": "sfm_shape_3448.bin", "expressions": "expression_blendshapes_3448.bin",
         "mapping": "ibug_to_sfm.txt", "contours": "sfm_model_contours.json",
         "edges": "sfm_3448_edge_topology.json"}
# The point the head turns about, in model units (mm; origin near the nose, y up, z forward):
# on the midline, about level with the cheekbones, 100 mm behind the face: near the neck's axis.
HEAD_CENTRE_MODEL = np.array([0.0, 10.0, -100.0])
# The inner points (brows, nose, eyes, mouth) that judge a fit: the jaw slides, 60/64 have no vertex.
INNER_POINTS = tuple(range(17, 68))


@dataclass(frozen=True)
class FaceFit:
    """A face's fitted 3D mesh, in image 3D (see geometry.py) and in model units.

    vertices: (N,3) image 3D; model_vertices: (N,3) the fitted shape in model units;
    triangles: (M,3); rotation: (3,3) the model's axes in image 3D (unit columns);
    scale: pixels per model unit; centre: (3,) the head's turning point in image 3D;
    landmark_vertex: (68,) the mesh vertex of each iBUG point (-1: none, the jaw and 60/64);
    error: mean distance of the inner points' vertices from their annotations / inter-ocular.
    """

    vertices: np.ndarray
    model_vertices: np.ndarray
    triangles: np.ndarray
    rotation: np.ndarray
    scale: float
    centre: np.ndarray
    landmark_vertex: np.ndarray
    error: float

    @property
    def angles(self) -> tuple[float, float, float]:
        """(yaw, pitch, roll) in degrees, the package's head-pose convention."""
        return face_angles(self.rotation)

    def to_image(self, model_points: np.ndarray) -> np.ndarray:
        """Model-unit points (N,3) in image 3D, by this fit's pose."""
        anchor = self.vertices[0] - self.scale * self.rotation @ self.model_vertices[0]
        return self.scale * np.asarray(model_points, dtype=np.float64) @ self.rotation.T + anchor


class SurreyModel:
    """The loaded model: `fit(landmarks, width, height)` -> FaceFit."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        missing = [n for n in FILES.values() if not (self.folder / n).is_file()]
        if missing:
            raise ConfigError(f"{self.folder}: not a Surrey Face Model folder (missing {', '.join(missing)}); "
                              "its files are published with the eos library (share/ in its repository)")
        eos = require("eos", "face profiling")
        f = {k: str(self.folder / n) for k, n in FILES.items()}
        shape = eos.morphablemodel.load_model(f["shape"])
        blendshapes = eos.morphablemodel.load_blendshapes(f["expressions"])
        self._eos = eos
        self._model = eos.morphablemodel.MorphableModel(
            shape.get_shape_model(), blendshapes, color_model=eos.morphablemodel.PcaModel(),
            vertex_definitions=None, texture_coordinates=shape.get_texture_coordinates())
        self._mapper = eos.core.LandmarkMapper(f["mapping"])
        self._edges = eos.morphablemodel.load_edge_topology(f["edges"])
        self._contour_landmarks = eos.fitting.ContourLandmarks.load(f["mapping"])
        self._model_contour = eos.fitting.ModelContour.load(f["contours"])
        vertex = []
        for i in range(68):
            v = self._mapper.convert(str(i + 1))
            vertex.append(int(v) if v else -1)
        self.landmark_vertex = np.asarray(vertex, dtype=np.int64)

    def fit(self, landmarks: np.ndarray, width: int, height: int) -> FaceFit:
        """Fit pose, shape and expression to 68 points (0-based pixel centres) of a
        width x height image."""
        pts = np.asarray(landmarks, dtype=np.float64)
        if pts.shape != (68, 2) or not np.all(np.isfinite(pts)):
            raise ValueError(f"face profiling needs 68 finite iBUG points, got shape {pts.shape}")
        eos = self._eos
        lms = [eos.core.Landmark(str(i + 1), [float(x), float(y)]) for i, (x, y) in enumerate(pts)]
        mesh, pose, _, _ = eos.fitting.fit_shape_and_pose(
            self._model, lms, self._mapper, int(width), int(height), self._edges,
            self._contour_landmarks, self._model_contour)
        model_vertices = np.asarray(mesh.vertices, dtype=np.float64)
        triangles = np.asarray(mesh.tvi, dtype=np.int64)
        modelview = np.asarray(pose.get_modelview(), dtype=np.float64)
        projection = np.asarray(pose.get_projection(), dtype=np.float64)
        # the viewport that reproduces the landmarks: x = (clip_x + 1) w / 2, y = (1 - clip_y) h / 2
        kx, ky = projection[0, 0] * width / 2, projection[1, 1] * height / 2
        view = model_vertices @ modelview[:3, :3].T + modelview[:3, 3]
        vertices = np.stack([kx * view[:, 0] + (projection[0, 3] + 1) * width / 2,
                             -ky * view[:, 1] + (1 - projection[1, 3]) * height / 2,
                             kx * view[:, 2]], axis=1)
        rotation = np.diag([1.0, -1.0, 1.0]) @ modelview[:3, :3]     # image y points down
        iod = float(np.linalg.norm(pts[45] - pts[36]))
        inner = [i for i in INNER_POINTS if self.landmark_vertex[i] >= 0]
        err = np.linalg.norm(vertices[self.landmark_vertex[inner], :2] - pts[inner], axis=1)
        fit = FaceFit(vertices=vertices, model_vertices=model_vertices, triangles=triangles,
                      rotation=rotation, scale=float(kx), centre=np.zeros(3),
                      landmark_vertex=self.landmark_vertex, error=float(err.mean() / max(iod, 1e-6)))
        object.__setattr__(fit, "centre", fit.to_image(HEAD_CENTRE_MODEL[None])[0])
        return fit


@lru_cache(maxsize=2)
def load_surrey_model(folder: str) -> SurreyModel:
    """One loaded model per folder and process (loading takes ~0.1 s)."""
    return SurreyModel(folder)


__all__ = ["FaceFit", "SurreyModel", "load_surrey_model", "JAW_POINTS", "HEAD_CENTRE_MODEL"]
