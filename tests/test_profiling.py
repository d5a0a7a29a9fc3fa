"""Face profiling: the turn's geometry and signs, the image mesh, the jaw on the outline, and the
dataset tool (deterministic, resumable, poor fits left out). Real-data tests fit real 300-W faces."""
from __future__ import annotations

import filecmp
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("scipy")

from conftest import DATA  # noqa: E402
from face3d import FakeSurrey, synthetic_fit, texture  # noqa: E402
from litehrnet_plus.data.formats import load_300w, load_pts_folder, read_pts, write_pts  # noqa: E402
from litehrnet_plus.inference.headpose import camera_matrix, face_model, solve_head_pose  # noqa: E402
from litehrnet_plus.profiling import dataset as profiling_dataset  # noqa: E402
from litehrnet_plus.profiling.dataset import ProfileSettings, plan_views, profile_dataset, read_manifest  # noqa: E402
from litehrnet_plus.profiling.geometry import JAW_POINTS, face_angles, rotate_about  # noqa: E402
from litehrnet_plus.profiling.image_mesh import build_image_mesh, rig_landmarks, turned_landmarks, warp  # noqa: E402



def solved_angles(points2d: np.ndarray, size: int = 320) -> tuple[float, float]:
    # a long focal length: the profiling projection is orthographic
    pose = solve_head_pose(points2d, camera_matrix(size, size, focal=50.0 * size))
    return pose.yaw, pose.pitch


@pytest.mark.parametrize("yaw,pitch", [(0, 0), (25, 0), (-40, 0), (60, 0), (0, 15), (-30, -10)])
def test_a_head_turned_by_a_known_pose_solves_to_that_pose(yaw, pitch):
    # the generic head (x right, y down, z away from the camera) in image 3D (z towards it)
    head = face_model() * np.array([1.5, 1.5, -1.5]) + np.array([160.0, 160.0, 0.0])
    turned = rotate_about(head, np.array([160.0, 160.0, -150.0]), yaw, pitch)
    got_yaw, got_pitch = solved_angles(turned[:, :2])
    assert abs(got_yaw - yaw) < 2.0 and abs(got_pitch - pitch) < 2.0


def test_face_angles_read_the_turn():
    frontal = np.diag([1.0, -1.0, 1.0])
    for yaw, pitch in [(0, 0), (30, 0), (-55, 0), (0, 12), (40, -8)]:
        rot = rotate_about(frontal.T, np.zeros(3), yaw, pitch).T
        y, p, r = face_angles(rot)
        assert abs(y - yaw) < 1e-6 and abs(p - pitch) < 1e-6 and abs(r) < 1e-6


def turn_synthetic(start: float, yaw: float, pitch: float = 0.0):
    """The synthetic face at yaw `start`, turned by (yaw, pitch): (fit, mesh, rig, drawn image,
    triangle ids, landmarks, jaw vertices)."""
    fit, pts = synthetic_fit(start)
    image = texture()
    mesh = build_image_mesh(fit, image.shape[:2])
    rig = rig_landmarks(fit, mesh, pts)
    turned = mesh.turned(yaw, pitch)
    out, ids = warp(image, mesh, turned)
    points, marched = turned_landmarks(fit, mesh, rig, turned, yaw, pitch)
    return fit, mesh, rig, out, ids, points, marched


def test_unturned_view_is_the_photo_and_its_annotation():
    fit, pts = synthetic_fit(20.0)
    _, _, _, out, _, points, _ = turn_synthetic(20.0, 0.0)
    image = texture()
    assert np.abs(out.astype(int) - image.astype(int)).max() <= 1
    np.testing.assert_allclose(points, pts, atol=1e-6)


def _outline_distance(ids: np.ndarray, face_triangle: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Distance of each point from the edge of the drawn face region."""
    mask = np.zeros(ids.shape, np.uint8)
    mask[(ids >= 0) & face_triangle[np.maximum(ids, 0)]] = 255
    edge = cv2.morphologyEx(mask, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    ey, ex = np.nonzero(edge)
    return np.array([np.min(np.hypot(ex - x, ey - y)) for x, y in points])


@pytest.mark.parametrize("start,turn", [(20.0, 30.0), (-10.0, -45.0), (35.0, 40.0)])
def test_jaw_points_march_to_the_turned_outline(start, turn):
    fit, mesh, rig, out, ids, points, marched = turn_synthetic(start, turn)
    jaw = np.array(JAW_POINTS)
    # the far side is the one the face turns towards: points 0-7 (its right) for a turn to the left
    far = jaw[jaw < 8] if turn > 0 else jaw[jaw > 8]
    near = jaw[jaw > 8] if turn > 0 else jaw[jaw < 8]
    face_triangle = mesh.face[mesh.triangles].all(axis=1)
    dist = _outline_distance(ids, face_triangle, points[far])
    assert dist.max() <= 2.0, dist
    # the far side's points slid over the surface; the near side's stay on (or next to) their own
    # vertex, turned with the face
    start_vertex = rig.vertex[jaw]
    assert (marched[np.isin(jaw, far)] != start_vertex[np.isin(jaw, far)]).mean() > 0.5
    own = rotate_about(fit.vertices, fit.centre, turn, 0.0)[rig.vertex[near], :2]
    assert np.linalg.norm(points[near] - own, axis=1).max() <= 4.0 * fit.scale   # one grid step of the cap


def test_inner_points_follow_the_turned_surface():
    fit, _, _, _, _, points, _ = turn_synthetic(10.0, 35.0, 8.0)
    verts = rotate_about(fit.vertices, fit.centre, 35.0, 8.0)
    inner = [i for i in range(17, 68) if fit.landmark_vertex[i] >= 0]
    # the image mesh is piecewise flat between thinned vertices: within a pixel of the true surface
    err = np.linalg.norm(points[inner] - verts[fit.landmark_vertex[inner], :2], axis=1)
    assert err.max() < 1.0, err.max()


def test_views_go_further_towards_the_face_own_side():
    s = ProfileSettings(yaws=(20, 40, 60), min_turn=5, jitter=0, pitch=0)
    rng = np.random.default_rng(0)
    assert [v[1] for v in plan_views(30.0, s, rng)] == [40.0, 60.0]
    assert [v[1] for v in plan_views(-12.0, s, rng)] == [-20.0, -40.0, -60.0]
    back = ProfileSettings(yaws=(0, 30), min_turn=-15, jitter=0, pitch=0)
    assert [v[0] for v in plan_views(10.0, back, rng)] == [0.0, 30.0]
    assert [v[0] for v in plan_views(20.0, back, rng)] == [30.0]


def _synthetic_dataset(root: Path) -> None:
    fake = FakeSurrey()
    image = texture()
    for name, shift in (("a", 0.0), ("b", 0.0), ("moved", 25.0)):
        cv2.imwrite(str(root / f"{name}.jpg"), image)
        write_pts(root / f"{name}.pts", fake.points + shift)


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_profiled_dataset_is_deterministic_resumable_and_leaves_out_poor_fits(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    _synthetic_dataset(src)
    samples = load_pts_folder(src)
    settings = ProfileSettings(yaws=(30, 50, 70), jitter=3, pitch=5, seed=3)
    quiet = dict(progress=False, log=lambda *_: None)
    counts = profile_dataset(samples, src, tmp_path / "one", FakeSurrey(), settings, **quiet)
    assert counts == {"faces": 3, "profiled": 2, "left_out_fit": 1, "left_out_other": 0, "images": 6}
    assert "moved.jpg" in (tmp_path / "one" / "left_out.csv").read_text()
    rows = read_manifest(tmp_path / "one")
    assert len(rows) == 6 and {r["source"] for r in rows} == {"a.jpg", "b.jpg"}
    for r in rows:               # each view's image and points exist; yaw is its target's, on the face's side
        assert (tmp_path / "one" / r["image"]).is_file()
        assert len(read_pts((tmp_path / "one" / r["image"]).with_suffix(".pts"))) == 68
        assert r["yaw"] > 0 and r["source_yaw"] == pytest.approx(20.0, abs=0.01)
    # the same seed gives the same files; the two faces differ (their own draws)
    profile_dataset(samples, src, tmp_path / "two", FakeSurrey(), settings, **quiet)
    assert _tree(tmp_path / "one") == _tree(tmp_path / "two")
    a, b = (read_manifest(tmp_path / "one")[i]["pitch"] for i in (0, 3))
    assert a != b
    # interrupted after one face, then resumed: the same output as the uninterrupted run
    real, calls = profiling_dataset._profile_one, []

    def dies_on_second(*args, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kw)
    monkeypatch.setattr(profiling_dataset, "_profile_one", dies_on_second)
    with pytest.raises(KeyboardInterrupt):
        profile_dataset(samples, src, tmp_path / "three", FakeSurrey(), settings, **quiet)
    monkeypatch.setattr(profiling_dataset, "_profile_one", real)
    said = []
    profile_dataset(samples, src, tmp_path / "three", FakeSurrey(), settings, progress=False, log=said.append)
    assert "1 of 3 faces already done" in said[0]
    assert _tree(tmp_path / "one") == _tree(tmp_path / "three")
    # a resumed run with other settings is refused (its views would mix)
    with pytest.raises(Exception, match="other settings"):
        profile_dataset(samples, src, tmp_path / "one", FakeSurrey(), ProfileSettings(seed=4), **quiet)
    # the output is an ordinary dataset
    assert len(load_pts_folder(tmp_path / "one")) == 6


def test_settings_are_checked():
    with pytest.raises(Exception, match="between 0 and 90"):
        ProfileSettings(yaws=(30, 120))


# ----------------------------------------------------------------------------- real faces
def _surrey():
    pytest.importorskip("eos")
    if not (DATA / "sfm").is_dir():
        pytest.skip("no Surrey Face Model in ../shared/data/sfm")
    from litehrnet_plus.profiling.surrey import load_surrey_model
    return load_surrey_model(str(DATA / "sfm"))


@pytest.mark.realdata
def test_real_faces_turned_by_a_known_yaw_solve_to_that_turn():
    """The turned landmarks of real fitted faces solve to the turn, within 2 degrees, with the
    3D points under the face's own annotations as the solver's head (the generic head's depth
    differs from face to face, which is the solver's error, not the turn's). The jaw slides over
    the surface, so it is left out."""
    model = _surrey()
    samples = load_300w(DATA / "300w", "helen/trainset")[:12]
    errors = []
    for s in samples:
        image = cv2.imread(str(s.image_path))
        fit = model.fit(s.landmarks, image.shape[1], image.shape[0])
        if fit.error > 0.08:
            continue
        mesh = build_image_mesh(fit, image.shape[:2])
        rig = rig_landmarks(fit, mesh, s.landmarks)
        inner = [i for i in range(17, 68) if rig.triangle[i] >= 0]
        # the annotated points in 3D (image 3D: z towards the camera; the solver's z points away)
        under = np.einsum("nk,nkd->nd", rig.weights[inner], mesh.points[mesh.triangles[rig.triangle[inner]]])
        head = np.zeros((68, 3))
        head[inner] = (under - under.mean(axis=0)) * np.array([1.0, 1.0, -1.0])
        cam = camera_matrix(image.shape[1], image.shape[0], focal=50.0 * max(image.shape))
        turn = 30.0 if fit.angles[0] >= 0 else -30.0
        yaws = [solve_head_pose(turned_landmarks(fit, mesh, rig, mesh.turned(t, 0), t, 0)[0], cam,
                                model=head, use=tuple(inner)).yaw for t in (0.0, turn)]
        errors.append(abs((yaws[1] - yaws[0]) - turn))
    assert len(errors) >= 8
    assert max(errors) < 2.0, errors


@pytest.mark.realdata
def test_real_fit_is_close_and_reads_the_annotated_turn():
    model = _surrey()
    s = load_300w(DATA / "300w", "helen/trainset")[0]
    image = cv2.imread(str(s.image_path))
    fit = model.fit(s.landmarks, image.shape[1], image.shape[0])
    assert fit.error < 0.06
    solved = solved_angles(s.landmarks, max(image.shape))[0]
    assert abs(fit.angles[0] - solved) < 8.0
