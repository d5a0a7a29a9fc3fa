"""A synthetic fitted 3D face (an ellipsoid cap carrying the generic head's landmarks), so the
profiling geometry and the dataset tool can be tested without the Surrey Face Model or eos."""
from __future__ import annotations

import numpy as np

from litehrnet_plus.inference.headpose import face_model
from litehrnet_plus.profiling.geometry import JAW_POINTS, rotate_about
from litehrnet_plus.profiling.surrey import HEAD_CENTRE_MODEL, FaceFit

A, B, C = 75.0, 100.0, 90.0          # mm: half width, half height, depth of the cap
NO_VERTEX = (60, 64)                 # as in the Surrey model: the inner mouth corners have none


def cap_mesh(step: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """Model vertices (x: the face's left, y up, z forward; front at z = 0) and triangles."""
    from scipy.spatial import Delaunay

    xs, ys = np.meshgrid(np.arange(-A, A + 1e-9, step), np.arange(-B, B + 1e-9, step))
    x, y = xs.ravel(), ys.ravel()
    r2 = (x / A) ** 2 + (y / B) ** 2
    keep = r2 <= 0.97
    x, y, r2 = x[keep], y[keep], r2[keep]
    z = -C + C * np.sqrt(1.0 - r2)
    return np.column_stack([x, y, z]), Delaunay(np.column_stack([x, y])).simplices.astype(np.int64)


def synthetic_fit(yaw: float = 20.0, pitch: float = 0.0, size: int = 320, scale: float = 1.2
                  ) -> tuple[FaceFit, np.ndarray]:
    """(fit, its 68 annotated points): the cap turned by (yaw, pitch), centred in a size^2 image;
    each annotation is the projection of its vertex; a jaw point's is the outline of the cap in
    the image at the height of the generic head's jaw point (as annotators mark it)."""
    model, tris = cap_mesh()
    head = face_model()                                    # x right, y down (image), mm
    wanted = np.column_stack([head[:, 0], -head[:, 1]])
    wanted[list(JAW_POINTS)] *= 0.9
    vertex = np.array([np.argmin(np.linalg.norm(model[:, :2] - p, axis=1)) for p in wanted])
    frontal = np.diag([1.0, -1.0, 1.0])                    # model axes in image 3D for a frontal face
    rotation = rotate_about(frontal.T, np.zeros(3), yaw, pitch).T
    offset = np.array([size / 2, size / 2 + 10, 0.0])
    vertices = scale * model @ rotation.T + offset
    side_axis = rotation[:2, 0] / np.linalg.norm(rotation[:2, 0])
    for j in JAW_POINTS:
        row = np.flatnonzero((np.abs(model[:, 1] - model[vertex[j], 1]) < 1e-6)
                             & (np.sign(model[:, 0]) == np.sign(model[vertex[j], 0])))
        vertex[j] = row[np.argmax(vertices[row, :2] @ (np.sign(model[vertex[j], 0]) * side_axis))]
    landmark_vertex = vertex.copy()
    landmark_vertex[list(JAW_POINTS)] = -1
    landmark_vertex[list(NO_VERTEX)] = -1
    fit = FaceFit(vertices=vertices, model_vertices=model, triangles=tris, rotation=rotation, scale=scale,
                  centre=scale * HEAD_CENTRE_MODEL @ rotation.T + offset, landmark_vertex=landmark_vertex, error=0.0)
    return fit, vertices[vertex, :2].copy()


def texture(size: int = 320, seed: int = 0) -> np.ndarray:
    """A photo stand-in with detail everywhere (so a wrong warp shows)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (size // 8, size // 8, 3), dtype=np.uint8)
    import cv2
    return cv2.resize(small, (size, size), interpolation=cv2.INTER_LINEAR)


class FakeSurrey:
    """Stands in for SurreyModel: fits every face with the synthetic cap; the fit error is how far
    the face's annotation is from the cap's own points (a moved annotation fits badly)."""

    def __init__(self, yaw: float = 20.0) -> None:
        self.fit_, self.points = synthetic_fit(yaw)

    def fit(self, landmarks: np.ndarray, width: int, height: int) -> FaceFit:
        iod = np.linalg.norm(self.points[45] - self.points[36])
        err = float(np.linalg.norm(np.asarray(landmarks) - self.points, axis=1).mean() / iod)
        from dataclasses import replace
        return replace(self.fit_, error=err)
