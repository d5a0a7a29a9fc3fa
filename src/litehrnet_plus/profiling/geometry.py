"""The geometry of turning a fitted face: rotation about the head's centre, triangles drawn by
depth, visibility, and the jaw line marched to the visible outline.

Frame ("image 3D"): x right and y down in image pixels (0-based pixel centres), z towards the
camera in the same pixel units. The projection is orthographic (scaled), as the fit's.

Angles follow the package's head-pose convention (`inference/headpose.py`): yaw > 0 turns the face
towards the image's left, pitch > 0 makes it look up.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..inference.headpose import angles_from_rotation

# iBUG-68 jaw points that slide along the cheek as the head turns (0-based: 0-7 one side,
# 9-16 the other); 8, the chin, stays on its vertex.
JAW_POINTS = tuple(range(0, 8)) + tuple(range(9, 17))
_TO_CAMERA = np.diag([1.0, 1.0, -1.0])
_TO_MODEL = np.diag([1.0, -1.0, -1.0])
# drawing precision of cv2.fillConvexPoly (fixed point, 1/16 px)
_SHIFT = 4


def rotate_about(points: np.ndarray, centre: np.ndarray, yaw: float, pitch: float,
                 weight: np.ndarray | None = None) -> np.ndarray:
    """Points (N,3) turned about `centre` by `yaw` then `pitch` (degrees, the package's signs);
    `weight` (N,) in [0, 1] scales the angles per point (0: the point stays where it is)."""
    w = np.ones(len(points)) if weight is None else np.asarray(weight, dtype=np.float64)
    d = np.asarray(points, dtype=np.float64) - centre
    a = -np.radians(yaw) * w         # yaw > 0: the front moves to -x (image left)
    b = np.radians(pitch) * w        # pitch > 0: the front moves to -y (up)
    x = d[:, 0] * np.cos(a) + d[:, 2] * np.sin(a)
    z = -d[:, 0] * np.sin(a) + d[:, 2] * np.cos(a)
    y = d[:, 1] * np.cos(b) - z * np.sin(b)
    z = d[:, 1] * np.sin(b) + z * np.cos(b)
    return np.stack([x, y, z], axis=1) + centre


def face_angles(rotation: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of a face whose model axes (x: the face's left, y: up,
    z: forward) are the columns of `rotation` in image 3D."""
    # the head-pose module's frames: camera z away from the camera, model y down and z away
    return angles_from_rotation(_TO_CAMERA @ np.asarray(rotation, dtype=np.float64) @ _TO_MODEL)


def paint_triangles(points2d: np.ndarray, depth: np.ndarray, triangles: np.ndarray,
                    shape: tuple[int, int], front: np.ndarray | None = None) -> np.ndarray:
    """The id of the nearest triangle at each pixel (-1: none), drawn far to near by mean depth
    (the painter's algorithm: exact enough for the small triangles of a face mesh); triangles
    marked `front` are drawn after all others."""
    ids = np.full(shape, -1, np.int32)
    mean_depth = depth[triangles].mean(axis=1)
    layer = np.zeros(len(triangles)) if front is None else np.asarray(front, dtype=np.float64)
    order = np.lexsort((mean_depth, layer))
    fixed = np.round(np.asarray(points2d, dtype=np.float64) * (1 << _SHIFT)).astype(np.int32)
    for t in order:
        cv2.fillConvexPoly(ids, fixed[triangles[t]], int(t), lineType=cv2.LINE_8, shift=_SHIFT)
    return ids


def visible_vertices(vertices: np.ndarray, triangles: np.ndarray, shape: tuple[int, int],
                     tolerance: float) -> np.ndarray:
    """Which vertices (N,3, image 3D) are seen: inside the image and not behind another part of
    the mesh by more than `tolerance` (pixels of depth)."""
    h, w = shape
    ids = paint_triangles(vertices[:, :2], vertices[:, 2], triangles, shape)
    x, y = np.round(vertices[:, 0]).astype(int), np.round(vertices[:, 1]).astype(int)
    inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    under = np.full(len(vertices), -1)
    under[inside] = ids[y[inside], x[inside]]
    # no triangle at the rounded pixel: the vertex is on the mesh's outline, nothing covers it
    seen = inside.copy()
    covered = np.flatnonzero(under >= 0)
    # the covering triangle's depth at the vertex (its plane, not its mean: at the cheek's
    # outline the surface is steep and a mean would hide the outline's own vertices)
    corners = vertices[triangles[under[covered]]]
    weights = barycentric(vertices[covered, :2], corners[:, :, :2])
    depth_there = np.einsum("nk,nk->n", weights, corners[:, :, 2])
    seen[covered] = vertices[covered, 2] >= depth_there - tolerance
    return seen


def jaw_lines(model_vertices: np.ndarray, jaw_vertex: np.ndarray, tolerance: float = 2.5) -> list[np.ndarray]:
    """For each jaw point, the mesh vertices it may slide to: those at its vertex's height in the
    model (within `tolerance` model units), on its side, between the face's midline and it."""
    lines = []
    for v in jaw_vertex:
        x0, y0 = model_vertices[v, 0], model_vertices[v, 1]
        same_row = np.abs(model_vertices[:, 1] - y0) <= tolerance
        same_side = (np.sign(model_vertices[:, 0]) == np.sign(x0)) & (np.abs(model_vertices[:, 0]) <= abs(x0))
        idx = np.flatnonzero(same_row & same_side)
        lines.append(idx if v in idx else np.append(idx, v))
    return lines


def march_jaw(vertices: np.ndarray, lines: list[np.ndarray], outward: np.ndarray) -> np.ndarray:
    """The vertex each jaw point sits on in a (turned) mesh: along its line, the one furthest
    out in the image (`outward` (J,2): the side's outward direction per point). On the side that
    turns away this is the cheek's silhouette (300W-LP's "landmark marching"); on the side that
    turns towards the camera it stays on the jaw's own vertex."""
    out = np.empty(len(lines), dtype=np.int64)
    for j, idx in enumerate(lines):
        out[j] = idx[np.argmax(vertices[idx, :2] @ outward[j])]
    return out


def barycentric(points: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """Barycentric coordinates (N,3) of points (N,2) in triangles (N,3,2)."""
    a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
    m = np.stack([b - a, c - a], axis=2)              # (N,2,2)
    flat = np.abs(np.linalg.det(m)) < 1e-12           # a triangle seen edge-on: its first corner
    m[flat] = np.eye(2)
    uv = np.linalg.solve(m, (points - a)[..., None])[..., 0]
    uv[flat] = 0.0
    return np.stack([1 - uv[:, 0] - uv[:, 1], uv[:, 0], uv[:, 1]], axis=1)
