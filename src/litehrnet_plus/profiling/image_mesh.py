"""The whole image as one mesh that turns with the face (3DDFA's "3D image meshing").

Control points: the fitted face's vertices that the photo shows (thinned to one per couple of
pixels), then rings of anchors around the face out to the head's outline, then the background
and the image border. Every point has a depth and a turning weight: the face and the rings on
the head turn fully, with depths falling from the face's edge to the head's centre; the head's
outline, the background and the border stay where they are. A Delaunay triangulation of the
points in the photo is a piecewise-affine map of the whole image; turning the points and
drawing the triangles far to near gives the turned photo with the surroundings stretched
continuously: no seam at the face's edge, no ghost of the old cheek (it moves with the face),
and nothing drawn that the photo never saw, as long as the face turns further towards the side
it already faces.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .geometry import (JAW_POINTS, barycentric, jaw_lines, march_jaw, paint_triangles, rotate_about,
                       visible_vertices)
from .surrey import FaceFit

THIN_CELL = 2.0                     # px: one control point per cell of the face
RING_STEPS = (0.2, 0.45, 0.75)      # anchor rings between the face's edge (0) and the head's outline (1)
RING_POINTS = 48
HEAD_REACH = 0.7                    # the head's outline beyond the face's edge, as a share of its radius
CHIN_REACH = 0.12                   # ... towards the chin (the neck does not turn)
BACKGROUND_RINGS = (1.5, 2.5)       # static rings, in head radii
VISIBILITY_TOLERANCE = 3.0          # model units (mm) of depth


@dataclass(frozen=True)
class ImageMesh:
    """points: (P,3) control points in image 3D; weight: (P,) turning weight; triangles: (T,3);
    centre: (3,) the turning point; face: (P,) which points are face vertices; seen: (N,) which
    vertices of the fitted mesh the photo shows."""

    points: np.ndarray
    weight: np.ndarray
    triangles: np.ndarray
    centre: np.ndarray
    face: np.ndarray
    shape: tuple[int, int]
    seen: np.ndarray              # (N,) which vertices of the fitted mesh the photo shows

    @property
    def face_triangle(self) -> np.ndarray:
        """(T,) the triangles between face vertices only."""
        return self.face[self.triangles].all(axis=1)

    def turned(self, yaw: float, pitch: float) -> np.ndarray:
        return rotate_about(self.points, self.centre, yaw, pitch, self.weight)


def _face_points(fit: FaceFit, seen: np.ndarray) -> np.ndarray:
    """The seen vertices, thinned to one per THIN_CELL pixels."""
    idx = np.flatnonzero(seen)
    cells = np.floor(fit.vertices[idx, :2] / THIN_CELL).astype(np.int64)
    _, first = np.unique(cells, axis=0, return_index=True)
    return idx[np.sort(first)]


def _rings(fit: FaceFit, face: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Anchors around the face: (points (A,3), weights (A,))."""
    h, w = shape
    f = fit.vertices[face]
    c2 = f[:, :2].mean(axis=0)
    hull = f[cv2.convexHull(f[:, :2].astype(np.float32), returnPoints=False).ravel()]
    ang = np.arctan2(hull[:, 1] - c2[1], hull[:, 0] - c2[0])
    order = np.argsort(ang)
    hull, ang = hull[order], ang[order]
    at = np.linspace(-np.pi, np.pi, RING_POINTS, endpoint=False)
    edge = np.stack([np.interp(at, ang, hull[:, k] - (c2[k] if k < 2 else 0), period=2 * np.pi)
                     for k in range(3)], axis=1)        # (R,3): offsets from c2 and depths of the face's edge
    down = fit.rotation[:2, 1] * -1.0                    # the model's -y (towards the chin) in the image
    down /= max(np.linalg.norm(down), 1e-9)
    direction = edge[:, :2] / np.maximum(np.linalg.norm(edge[:, :2], axis=1, keepdims=True), 1e-9)
    chin = np.clip(direction @ down, 0.0, 1.0)
    reach = HEAD_REACH * (1 - chin) + CHIN_REACH * chin
    pts, wts = [], []
    for t in RING_STEPS:
        xy = c2 + edge[:, :2] * (1 + t * reach)[:, None]
        z = fit.centre[2] + (edge[:, 2] - fit.centre[2]) * (1 - t)
        pts.append(np.column_stack([xy, z]))
        wts.append(np.ones(RING_POINTS))
    behind = fit.centre[2] - 50 * fit.scale           # static points: behind everything that turns
    for s in (1.0, *BACKGROUND_RINGS):
        xy = c2 + edge[:, :2] * ((1 + reach) * s)[:, None]
        pts.append(np.column_stack([xy, np.full(RING_POINTS, behind)]))
        wts.append(np.zeros(RING_POINTS))
    n = 9
    bx, by = np.linspace(0, w - 1, n), np.linspace(0, h - 1, n)
    border = np.concatenate([np.column_stack([bx, np.zeros(n)]), np.column_stack([bx, np.full(n, h - 1.0)]),
                             np.column_stack([np.zeros(n - 2), by[1:-1]]),
                             np.column_stack([np.full(n - 2, w - 1.0), by[1:-1]])])
    pts.append(np.column_stack([border, np.full(len(border), behind)]))
    wts.append(np.zeros(len(border)))
    p, wt = np.concatenate(pts), np.concatenate(wts)
    # anchors far outside the image only make slivers
    keep = (p[:, 0] > -w) & (p[:, 0] < 2 * w) & (p[:, 1] > -h) & (p[:, 1] < 2 * h)
    return p[keep], wt[keep]


def build_image_mesh(fit: FaceFit, shape: tuple[int, int]) -> ImageMesh:
    from scipy.spatial import Delaunay   # the train extra's; imported here so geometry stays NumPy-only

    seen = visible_vertices(fit.vertices, fit.triangles, shape, VISIBILITY_TOLERANCE * fit.scale)
    face = _face_points(fit, seen)
    anchors, anchor_weight = _rings(fit, face, shape)
    points = np.concatenate([fit.vertices[face], anchors])
    weight = np.concatenate([np.ones(len(face)), anchor_weight])
    # a control point on top of another (a ring point inside the face) would fold the map
    _, unique = np.unique(np.round(points[:, :2], 2), axis=0, return_index=True)
    unique = np.sort(unique)
    points, weight = points[unique], weight[unique]
    is_face = unique < len(face)
    triangles = Delaunay(points[:, :2]).simplices.astype(np.int64)
    return ImageMesh(points=points, weight=weight, triangles=triangles, centre=fit.centre,
                     face=is_face, shape=tuple(shape), seen=seen)


def warp(image: np.ndarray, mesh: ImageMesh, turned: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The photo drawn with the mesh's points moved to `turned`: (image, triangle id per pixel).
    The face's own triangles are drawn over its surroundings: the ring anchors turn about the
    head's centre too and, on the side that turns away, would otherwise pass over the cheek."""
    h, w = mesh.shape
    ids = paint_triangles(turned[:, :2], turned[:, 2], mesh.triangles, (h, w), front=mesh.face_triangle)
    src = mesh.points[mesh.triangles][:, :, :2]
    dst = turned[mesh.triangles][:, :, :2]
    ones = np.ones((len(mesh.triangles), 3, 1))
    # per triangle, the affine map from the turned image back to the photo: [x y 1] @ m = source
    a = np.concatenate([dst, ones], axis=2)
    ok = np.abs(np.linalg.det(a)) > 1e-9
    m = np.zeros((len(a), 3, 2))
    m[ok] = np.linalg.solve(a[ok], src[ok])
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    mm = m[np.maximum(ids, 0)]
    map_x = (xx * mm[..., 0, 0] + yy * mm[..., 1, 0] + mm[..., 2, 0]).astype(np.float32)
    map_y = (xx * mm[..., 0, 1] + yy * mm[..., 1, 1] + mm[..., 2, 1]).astype(np.float32)
    out = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    return out, ids


@dataclass(frozen=True)
class LandmarkRig:
    """How a face's 68 annotated points follow the turn.

    Inner points the photo shows ride on the image mesh (barycentric in their triangle), so they
    stay on the same pixels of the face. Points hidden in the photo ride on their own mesh
    vertex plus the annotation's offset from it. Jaw points march to the outline along their
    line of the mesh, keeping the annotation's offset from the vertex they start on.
    """

    triangle: np.ndarray      # (68,) triangle of the image mesh, -1: rides on a vertex instead
    weights: np.ndarray       # (68,3) barycentric weights
    vertex: np.ndarray        # (68,) mesh vertex for the points that ride on one (-1: none)
    offset: np.ndarray        # (68,2) annotation - vertex in the photo
    lines: list               # per jaw point, its candidate vertices
    outward_side: np.ndarray  # (J,) +1 / -1: the model x side of each jaw point


def rig_landmarks(fit: FaceFit, mesh: ImageMesh, landmarks: np.ndarray) -> LandmarkRig:
    pts = np.asarray(landmarks, dtype=np.float64)
    n = len(pts)
    triangle = np.full(n, -1)
    weights = np.zeros((n, 3))
    vertex = np.full(n, -1)
    offset = np.zeros((n, 2))
    seen = mesh.seen
    jaw = list(JAW_POINTS)
    # the jaw's starting vertices: the nearest seen vertex on the point's side of the face
    jaw_vertex = []
    for j in jaw:
        side = -1.0 if j < 8 else 1.0          # points 0-7 are on the model's -x side (the face's right)
        cand = np.flatnonzero(seen & (np.sign(fit.model_vertices[:, 0]) == side) & (fit.model_vertices[:, 1] < 45))
        if cand.size == 0:
            cand = np.flatnonzero(np.sign(fit.model_vertices[:, 0]) == side)
        jaw_vertex.append(cand[np.argmin(np.linalg.norm(fit.vertices[cand, :2] - pts[j], axis=1))])
    jaw_vertex = np.asarray(jaw_vertex)
    vertex[jaw] = jaw_vertex
    offset[jaw] = pts[jaw] - fit.vertices[jaw_vertex, :2]
    sides = np.sign(fit.model_vertices[jaw_vertex, 0])
    # a line keeps only the vertices inside its starting vertex in the photo, so that the
    # unturned face keeps its annotation and the march only ever moves inwards on the far side
    side_axis = fit.rotation[:2, 0] / max(np.linalg.norm(fit.rotation[:2, 0]), 1e-9)
    lines = []
    for k, line in enumerate(jaw_lines(fit.model_vertices, jaw_vertex)):
        reach = fit.vertices[line, :2] @ (sides[k] * side_axis)
        lines.append(line[reach <= reach[line == jaw_vertex[k]][0] + 1e-9])
    # the rest: on the image mesh where the photo shows the point's surface
    finder = _triangle_finder(mesh)
    for i in range(n):
        if i in jaw:
            continue
        v = fit.landmark_vertex[i]
        if v >= 0 and not seen[v]:
            vertex[i], offset[i] = v, pts[i] - fit.vertices[v, :2]
            continue
        t = finder(pts[i])
        if t < 0:
            if v < 0:
                raise ValueError(f"landmark {i} is outside the image mesh")
            vertex[i], offset[i] = v, pts[i] - fit.vertices[v, :2]
            continue
        triangle[i] = t
        weights[i] = barycentric(pts[i][None], mesh.points[mesh.triangles[t]][None, :, :2])[0]
    return LandmarkRig(triangle, weights, vertex, offset, lines, sides)


def _triangle_finder(mesh: ImageMesh):
    ids = paint_triangles(mesh.points[:, :2], mesh.points[:, 2], mesh.triangles, mesh.shape)
    h, w = mesh.shape

    def find(p: np.ndarray) -> int:
        x, y = int(round(p[0])), int(round(p[1]))
        if not (0 <= x < w and 0 <= y < h):
            return -1
        return int(ids[y, x])
    return find


def turned_landmarks(fit: FaceFit, mesh: ImageMesh, rig: LandmarkRig, turned_points: np.ndarray,
                     yaw: float, pitch: float) -> tuple[np.ndarray, np.ndarray]:
    """The 68 points of the face turned by (yaw, pitch): (points (68,2), jaw vertices (J,))."""
    verts = rotate_about(fit.vertices, fit.centre, yaw, pitch)
    out = np.zeros((len(rig.triangle), 2))
    on_mesh = rig.triangle >= 0
    corners = turned_points[mesh.triangles[rig.triangle[on_mesh]]][:, :, :2]
    out[on_mesh] = np.einsum("nk,nkd->nd", rig.weights[on_mesh], corners)
    on_vertex = ~on_mesh
    out[on_vertex] = verts[rig.vertex[on_vertex], :2] + rig.offset[on_vertex]
    # the jaw: march along each line to the outline of the turned mesh
    turned_rotation = rotate_about(fit.rotation.T, np.zeros(3), yaw, pitch).T
    side_axis = turned_rotation[:2, 0]
    side_axis = side_axis / max(np.linalg.norm(side_axis), 1e-9)
    outward = rig.outward_side[:, None] * side_axis[None]
    jaw = list(JAW_POINTS)
    marched = march_jaw(verts, rig.lines, outward)
    out[jaw] = verts[marched, :2] + rig.offset[jaw]
    return out, marched
