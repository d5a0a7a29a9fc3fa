"""Tests of data/transforms.py: the crop matrix, warping and point transforms must agree to
sub-pixel accuracy, or every heatmap target and every prediction is shifted."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from litehrnet_plus.data.transforms import (
    AugmentConfig,
    check_box,
    crop_matrix,
    flip_landmarks,
    invert_affine,
    landmark_box,
    sample_matrix,
    to_input,
    transform_points,
    warp,
)
from litehrnet_plus.schemes import IBUG68, WFLW98, LandmarkScheme

CENTROID_TOL = 0.15  # px in the crop


# ----------------------------------------------------------------------------- helpers

def render_dots(shape: tuple[int, int], pts: np.ndarray, sigma: float) -> np.ndarray:
    """Float image with one Gaussian dot per point, centred at the sub-pixel position
    (pixel centres at integers, the transforms' convention)."""
    img = np.zeros(shape, dtype=np.float32)
    r = int(np.ceil(5 * sigma))
    for x, y in pts:
        x0, x1 = max(int(x) - r, 0), min(int(x) + r + 1, shape[1])
        y0, y1 = max(int(y) - r, 0), min(int(y) + r + 1, shape[0])
        xs = np.arange(x0, x1, dtype=np.float64)
        ys = np.arange(y0, y1, dtype=np.float64)
        gx = np.exp(-((xs - x) ** 2) / (2 * sigma**2))
        gy = np.exp(-((ys - y) ** 2) / (2 * sigma**2))
        img[y0:y1, x0:x1] += np.outer(gy, gx).astype(np.float32)
    return img


def centroid(img: np.ndarray, near: np.ndarray, radius: int) -> np.ndarray:
    """Intensity centroid of the window of `radius` around `near` (first channel)."""
    if img.ndim == 3:
        img = img[..., 0]
    cx, cy = int(round(near[0])), int(round(near[1]))
    win = img[cy - radius:cy + radius + 1, cx - radius:cx + radius + 1].astype(np.float64)
    assert win.shape == (2 * radius + 1, 2 * radius + 1), "dot too close to the crop border"
    ys, xs = np.mgrid[cy - radius:cy + radius + 1, cx - radius:cx + radius + 1]
    total = win.sum()
    assert total > 0, "no dot found where transform_points put it"
    return np.array([(win * xs).sum() / total, (win * ys).sum() / total])


def dot_layout(centre: tuple[float, float], spread: float) -> np.ndarray:
    """Five dots (centre + four around it, within `spread` of the centre, so they stay in
    any rotated crop of dot_box) at deliberately non-integer positions."""
    cx, cy = centre
    offsets = np.array([[0, 0], [-0.7, -0.6], [0.7, -0.65], [-0.65, 0.7], [0.6, 0.68]])
    return (np.array([cx, cy]) + offsets * spread + np.array([0.37, -0.21])).astype(np.float32)


def dot_box(pts: np.ndarray, spread: float) -> np.ndarray:
    """A face box twice the dots' spread around their centre dot."""
    cx, cy = pts[0]
    return np.array([cx - 2 * spread, cy - 2 * spread, cx + 2 * spread, cy + 2 * spread])


def symmetric_face(scheme: LandmarkScheme, rng: np.random.Generator, cx: float = 100.0) -> np.ndarray:
    """Landmarks mirror-symmetric about x = cx, with each flip pair's first index on the
    image-left (the iBUG/WFLW convention)."""
    pts = np.zeros((scheme.num_landmarks, 2), dtype=np.float32)
    pts[:, 0] = cx
    pts[:, 1] = rng.uniform(60, 140, scheme.num_landmarks)
    for a, b in scheme.flip_pairs or ():
        d, y = rng.uniform(5, 40), rng.uniform(60, 140)
        pts[a] = (cx - d, y)
        pts[b] = (cx + d, y)
    return pts


# ----------------------------------------------------------------------------- warp vs points

WARP_CASES = [
    # rotation_deg, scale, flip, shift
    (0.0, 1.25, False, (0.0, 0.0)),
    (30.0, 1.25, False, (0.0, 0.0)),
    (-45.0, 1.6, False, (0.03, -0.04)),
    (90.0, 1.1, False, (0.0, 0.0)),
    (0.0, 1.25, True, (0.0, 0.0)),
    (-20.0, 0.9, True, (-0.05, 0.05)),
    (75.0, 1.8, True, (0.02, 0.0)),
]


@pytest.mark.parametrize("rot,scale,flip,shift", WARP_CASES)
def test_warp_moves_dots_where_transform_points_says(rot, scale, flip, shift):
    pts = dot_layout((101.3, 98.6), spread=36)
    img = render_dots((200, 210), pts, sigma=3.0)
    box = dot_box(pts, 36)
    m = crop_matrix(box, 128, scale=scale, rotation_deg=rot, flip=flip, shift=shift)
    crop = warp(img, m, 128)
    expected = transform_points(pts, m)
    for p in expected:
        assert np.abs(centroid(crop, p, radius=9) - p).max() < CENTROID_TOL


def test_warp_uint8_colour_image_keeps_points_aligned():
    pts = dot_layout((80.0, 90.0), spread=30)
    dots = render_dots((180, 170), pts, sigma=2.5)
    img = np.repeat((dots * 250).astype(np.uint8)[..., None], 3, axis=2)
    m = crop_matrix(dot_box(pts, 30), 96, rotation_deg=17.0)
    crop = warp(img, m, 96)
    assert crop.shape == (96, 96, 3) and crop.dtype == np.uint8
    for p in transform_points(pts, m):
        assert np.abs(centroid(crop, p, radius=7) - p).max() < CENTROID_TOL


@pytest.mark.parametrize("rot,flip", [(0.0, False), (35.0, False), (-60.0, True)])
def test_large_shrink_path_keeps_points_aligned(rot, flip):
    # a 560 px face into a 96 px crop: zoom ~0.14 takes the pre-shrink branch of warp
    pts = dot_layout((500.4, 480.7), spread=140)
    img = render_dots((1000, 1000), pts, sigma=15.0)
    m = crop_matrix(dot_box(pts, 140), 96, rotation_deg=rot, flip=flip)
    zoom = np.sqrt(abs(np.linalg.det(m[:, :2])))
    assert zoom < 0.5
    crop = warp(img, m, 96)
    assert crop.shape == (96, 96)
    for p in transform_points(pts, m):
        assert np.abs(centroid(crop, p, radius=8) - p).max() < CENTROID_TOL


def test_box_centre_maps_to_crop_centre():
    box = np.array([10.0, 20.0, 110.0, 80.0])
    m = crop_matrix(box, 96, rotation_deg=33.0, flip=True)
    centre = transform_points(np.array([[60.0, 50.0]]), m)[0]
    np.testing.assert_allclose(centre, [47.5, 47.5], atol=1e-4)


def test_crop_covers_scale_times_longer_side():
    box = np.array([0.0, 0.0, 100.0, 40.0])
    m = crop_matrix(box, 96, scale=1.25)
    left, right = transform_points(np.array([[50.0 - 62.5, 20.0], [50.0 + 62.5, 20.0]]), m)
    # 125 source px span 96 crop px (pixel-centre spacing: side maps to output_size)
    assert right[0] - left[0] == pytest.approx(96.0, abs=1e-3)


# ----------------------------------------------------------------------------- inverse

@settings(max_examples=150, deadline=None)
@given(
    x1=st.floats(0, 400), y1=st.floats(0, 400),
    w=st.floats(8, 300), h=st.floats(8, 300),
    rot=st.floats(-90, 90), scale=st.floats(0.5, 2.0), flip=st.booleans(),
    sx=st.floats(-0.2, 0.2), sy=st.floats(-0.2, 0.2),
    size=st.sampled_from([64, 96, 128, 256]), seed=st.integers(0, 2**32 - 1),
)
def test_invert_affine_round_trip(x1, y1, w, h, rot, scale, flip, sx, sy, size, seed):
    box = np.array([x1, y1, x1 + w, y1 + h])
    m = crop_matrix(box, size, scale=scale, rotation_deg=rot, flip=flip, shift=(sx, sy))
    inv = invert_affine(m)
    rng = np.random.default_rng(seed)
    pts = np.stack([rng.uniform(x1, x1 + w, 20), rng.uniform(y1, y1 + h, 20)], axis=1)
    back = transform_points(transform_points(pts, m), inv)
    np.testing.assert_allclose(back, pts, atol=1e-4)
    compose = np.vstack([inv, [0, 0, 1]]) @ np.vstack([m, [0, 0, 1]])
    np.testing.assert_allclose(compose, np.eye(3), atol=1e-9)


# ----------------------------------------------------------------------------- flips

@pytest.mark.parametrize("scheme", [IBUG68, WFLW98], ids=lambda s: s.name)
def test_flip_with_permutation_keeps_left_and_right(scheme):
    pts = symmetric_face(scheme, np.random.default_rng(0))
    left, right = scheme.eye_corners
    assert pts[left, 0] < pts[right, 0]
    m = crop_matrix(landmark_box(pts), 96, flip=True)
    mirrored = transform_points(pts, m)
    # mirroring alone puts the image-left eye corner on the right: the permutation is needed
    assert mirrored[left, 0] > mirrored[right, 0]
    flipped = flip_landmarks(mirrored, scheme.flip_permutation())
    assert flipped[left, 0] < flipped[right, 0]
    for a, b in scheme.flip_pairs:
        assert flipped[a, 0] < flipped[b, 0]


@settings(max_examples=40, deadline=None)
@given(rot=st.floats(-90, 90), sx=st.floats(-0.1, 0.1), sy=st.floats(-0.1, 0.1),
       seed=st.integers(0, 1000), scheme=st.sampled_from([IBUG68, WFLW98]))
def test_flipped_symmetric_face_equals_mirrored_transform(rot, sx, sy, seed, scheme):
    # mirroring a symmetric face about its axis changes nothing, so a flipped crop with
    # rotation r and shift (sx, sy) must equal the plain crop with -r and (-sx, sy)
    pts = symmetric_face(scheme, np.random.default_rng(seed))
    box = landmark_box(pts)
    flipped = transform_points(pts, crop_matrix(box, 96, rotation_deg=rot, flip=True, shift=(sx, sy)))
    flipped = flip_landmarks(flipped, scheme.flip_permutation())
    plain = transform_points(pts, crop_matrix(box, 96, rotation_deg=-rot, shift=(-sx, sy)))
    np.testing.assert_allclose(flipped, plain, atol=1e-3)


@pytest.mark.parametrize("scheme", [IBUG68, WFLW98], ids=lambda s: s.name)
def test_flip_permutation_is_an_involution(scheme):
    perm = scheme.flip_permutation()
    assert sorted(perm) == list(range(scheme.num_landmarks))
    assert [perm[p] for p in perm] == list(range(scheme.num_landmarks))


# ----------------------------------------------------------------------------- network input

def test_to_input_single_image_is_float_nchw_rgb_in_unit_range():
    img = np.zeros((5, 7, 3), dtype=np.uint8)
    img[..., 0], img[..., 1], img[..., 2] = 10, 20, 255  # B, G, R
    x = to_input(img)
    assert x.shape == (1, 3, 5, 7) and x.dtype == np.float32 and x.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(x[0, :, 0, 0], [1.0, 20 / 255, 10 / 255], rtol=1e-6)
    assert x.min() >= 0.0 and x.max() <= 1.0


def test_to_input_batch_keeps_order_and_range():
    rng = np.random.default_rng(1)
    batch = rng.integers(0, 256, size=(3, 4, 6, 3), dtype=np.uint8)
    x = to_input(batch)
    assert x.shape == (3, 3, 4, 6) and x.dtype == np.float32
    np.testing.assert_allclose(x[2, 0], batch[2, :, :, 2] / 255.0, rtol=1e-6)
    assert 0.0 <= x.min() and x.max() <= 1.0


# ----------------------------------------------------------------------------- boxes

@pytest.mark.parametrize("box,message", [
    ([10, 10, 10, 50], "zero or negative size"),
    ([10, 10, 50, 10], "zero or negative size"),
    ([50, 10, 10, 60], "zero or negative size"),
    ([10, 10, 50, float("nan")], "finite"),
    ([10, float("inf"), 50, 60], "finite"),
    ([10, 10, 50], "4 finite numbers"),
])
def test_check_box_rejects_bad_boxes(box, message):
    with pytest.raises(ValueError, match=message):
        check_box(np.array(box, dtype=np.float64))
    with pytest.raises(ValueError, match=message):
        crop_matrix(np.array(box, dtype=np.float64), 96)


def test_check_box_accepts_a_good_box():
    np.testing.assert_array_equal(check_box([1, 2, 3, 4]), [1.0, 2.0, 3.0, 4.0])


def test_landmark_box_is_tight():
    pts = np.array([[3.5, 7.0], [10.0, -2.0], [4.0, 4.0]])
    np.testing.assert_array_equal(landmark_box(pts), np.array([3.5, -2.0, 10.0, 7.0], dtype=np.float32))


# ----------------------------------------------------------------------------- augmentation

def test_sample_matrix_without_augmentation_is_the_plain_crop():
    box = np.array([20.0, 30.0, 120.0, 150.0])
    m, flipped = sample_matrix(box, 96, AugmentConfig.none(), np.random.default_rng(0))
    assert not flipped
    np.testing.assert_allclose(m, crop_matrix(box, 96), atol=1e-12)


def test_sample_matrix_never_flips_when_the_scheme_cannot():
    rng = np.random.default_rng(0)
    aug = AugmentConfig(flip_prob=1.0)
    box = np.array([0.0, 0.0, 50.0, 50.0])
    assert not any(sample_matrix(box, 64, aug, rng, can_flip=False)[1] for _ in range(50))
    m, flipped = sample_matrix(box, 64, aug, rng, can_flip=True)
    assert flipped and np.linalg.det(m[:, :2]) < 0


def _old_color_jitter(crop, amount, rng):
    """The brightness/contrast jitter the shipped models were trained with."""
    alpha = 1.0 + rng.uniform(-amount, amount)
    beta = 255.0 * rng.uniform(-amount, amount) / 2
    return np.clip(crop.astype(np.float32) * alpha + beta, 0, 255).astype(np.uint8)


def test_photometric_defaults_are_the_old_brightness_contrast_jitter():
    """Configs written before the photometric fields draw exactly the same crops (resumed
    runs stay bit-exact)."""
    from litehrnet_plus.data.photometric import photometric
    crop = np.random.default_rng(3).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    for seed in range(5):
        want = _old_color_jitter(crop, 0.2, np.random.default_rng(seed))
        got = photometric(crop, AugmentConfig(), np.random.default_rng(seed))
        assert np.array_equal(got, want)
    off = AugmentConfig(color=0.0)
    assert np.array_equal(photometric(crop, off, np.random.default_rng(0)), crop)


def test_photometric_steps_do_what_they_say():
    from litehrnet_plus.data.photometric import photometric
    rng = np.random.default_rng(0)
    crop = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
    base = dict(color=0.0)
    swap = photometric(crop, AugmentConfig(**base, channel_swap_prob=1.0), rng)
    assert np.array_equal(swap, crop[..., ::-1])
    grey = photometric(crop, AugmentConfig(**base, grayscale_prob=1.0), rng)
    assert np.array_equal(grey[..., 0], grey[..., 1]) and np.array_equal(grey[..., 1], grey[..., 2])
    cast = photometric(np.full((8, 8, 3), 128, np.uint8), AugmentConfig(**base, channel_gain=0.5), rng)
    assert len(set(cast[0, 0].tolist())) == 3                     # each channel its own gain
    occluded = photometric(crop, AugmentConfig(**base, occlusion_prob=1.0), rng)
    changed = np.any(occluded != crop, axis=2)
    assert 0.02 < changed.mean() < 0.2                           # one patch, 15-40% of each side
    for kw in ({"blur_prob": 1.0}, {"noise": 0.05}, {"jpeg_prob": 1.0}, {"hue": 30.0}):
        out = photometric(crop, AugmentConfig(**base, **kw), rng)
        assert out.dtype == np.uint8 and out.shape == crop.shape and not np.array_equal(out, crop)


def test_wflw_to_ibug_correspondence_keeps_the_eye_corners_and_mirror():
    from litehrnet_plus.schemes import IBUG68, WFLW98, WFLW98_TO_IBUG68

    m = WFLW98_TO_IBUG68
    assert len(m) == 68 and len(set(m)) == 68
    # the inter-ocular normaliser points correspond
    assert (m[IBUG68.eye_corners[0]], m[IBUG68.eye_corners[1]]) == WFLW98.eye_corners
    # mirror pairs of one scheme map to mirror pairs of the other
    wflw_pairs = {frozenset(p) for p in WFLW98.flip_pairs}
    assert all(frozenset((m[a], m[b])) in wflw_pairs for a, b in IBUG68.flip_pairs)
