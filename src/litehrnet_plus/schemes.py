"""Landmark schemes: the one source of truth for landmark counts, flip maps and normalisers.

Every other module (datasets, augmentation, evaluation, inference, drawing) asks this
module; nothing here imports anything from the package.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from .errors import UnknownNameError


@dataclass(frozen=True)
class LandmarkScheme:
    """A named landmark layout.

    flip_pairs: index pairs swapped by a horizontal flip (None: flipping is refused).
    eye_corners: outer eye corners (left-of-image, right-of-image), the inter-ocular normaliser.
    pupils: pupil indices where the scheme defines them (or None), the inter-pupil normaliser.
    groups: named index ranges, for per-region errors and for drawing polylines.
    closed: group names drawn as closed polygons.
    """

    name: str
    num_landmarks: int
    flip_pairs: tuple[tuple[int, int], ...] | None
    eye_corners: tuple[int, int] | None
    pupils: tuple[int, int] | None = None
    groups: dict[str, tuple[int, int]] = field(default_factory=dict)
    closed: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n = self.num_landmarks
        idx = [i for p in (self.flip_pairs or ()) for i in p]
        if any(not 0 <= i < n for i in idx) or len(set(idx)) != len(idx):
            raise ValueError(f"scheme {self.name!r}: flip pairs must be distinct indices < {n}")
        for pair in (self.eye_corners, self.pupils):
            if pair is not None and any(not 0 <= i < n for i in pair):
                raise ValueError(f"scheme {self.name!r}: normaliser indices must be < {n}")

    @property
    def can_flip(self) -> bool:
        return self.flip_pairs is not None

    def flip_permutation(self) -> list[int]:
        """perm such that flipped_landmarks = mirror(landmarks)[perm]."""
        if self.flip_pairs is None:
            raise ValueError(
                f"scheme {self.name!r} has no flip permutation: horizontal flipping would swap "
                "left and right landmarks; pass flip_pairs to enable it")
        perm = list(range(self.num_landmarks))
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm


def _pairs(*runs: tuple[list[int], list[int]]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for left, right in runs:
        out.extend(zip(left, right))
    return tuple(out)


# iBUG 68-point markup (300-W), 0-based.
IBUG68 = LandmarkScheme(
    name="ibug68",
    num_landmarks=68,
    flip_pairs=_pairs(
        (list(range(0, 8)), list(range(16, 8, -1))),          # jaw
        (list(range(17, 22)), list(range(26, 21, -1))),       # brows
        ([31, 32], [35, 34]),                                 # nostrils
        ([36, 37, 38, 39, 40, 41], [45, 44, 43, 42, 47, 46]),  # eyes
        ([48, 49, 50, 60, 61, 67, 59, 58], [54, 53, 52, 64, 63, 65, 55, 56]),  # mouth
    ),
    eye_corners=(36, 45),
    pupils=None,
    groups={"jaw": (0, 17), "brow_l": (17, 22), "brow_r": (22, 27), "nose_bridge": (27, 31),
            "nose": (31, 36), "eye_l": (36, 42), "eye_r": (42, 48), "mouth_out": (48, 60),
            "mouth_in": (60, 68)},
    closed=("eye_l", "eye_r", "mouth_out", "mouth_in"),
)

# WFLW 98-point markup, 0-based.
WFLW98 = LandmarkScheme(
    name="wflw98",
    num_landmarks=98,
    flip_pairs=_pairs(
        (list(range(0, 16)), list(range(32, 16, -1))),                       # contour
        (list(range(33, 42)), [46, 45, 44, 43, 42, 50, 49, 48, 47]),         # brows
        ([55, 56], [59, 58]),                                                # nostrils
        ([60, 61, 62, 63, 64, 65, 66, 67], [72, 71, 70, 69, 68, 75, 74, 73]),  # eyes
        ([76, 77, 78, 88, 89, 95, 87, 86], [82, 81, 80, 92, 91, 93, 83, 84]),  # mouth
        ([96], [97]),                                                        # pupils
    ),
    eye_corners=(60, 72),
    pupils=(96, 97),
    groups={"contour": (0, 33), "brow_l": (33, 42), "brow_r": (42, 51), "nose_bridge": (51, 55),
            "nose": (55, 60), "eye_l": (60, 68), "eye_r": (68, 76), "mouth_out": (76, 88),
            "mouth_in": (88, 96)},
    closed=("brow_l", "brow_r", "eye_l", "eye_r", "mouth_out", "mouth_in"),
)

# The standard WFLW-98 -> 300-W-68 correspondence: WFLW98_TO_IBUG68[i] is the WFLW point that
# stands for iBUG point i (jaw: every second contour point; brows: the upper lines; nose; six
# points per eye; the mouth as it is). It lets 68-point models be measured on WFLW photos.
WFLW98_TO_IBUG68: tuple[int, ...] = (
    tuple(range(0, 33, 2)) + tuple(range(33, 38)) + tuple(range(42, 47)) + tuple(range(51, 60))
    + (60, 61, 63, 64, 65, 67, 68, 69, 71, 72, 73, 75) + tuple(range(76, 96)))
assert len(WFLW98_TO_IBUG68) == 68

SCHEMES: dict[str, LandmarkScheme] = {s.name: s for s in (IBUG68, WFLW98)}
_BY_COUNT = {s.num_landmarks: s for s in SCHEMES.values()}


def get_scheme(name_or_count: str | int) -> LandmarkScheme:
    """A built-in scheme by name ("ibug68", "wflw98") or by landmark count (68, 98)."""
    if isinstance(name_or_count, int):
        if name_or_count in _BY_COUNT:
            return _BY_COUNT[name_or_count]
        raise UnknownNameError(f"no built-in landmark scheme with {name_or_count} points "
                       f"(built-in: {sorted(_BY_COUNT)}); use custom_scheme()")
    if name_or_count in SCHEMES:
        return SCHEMES[name_or_count]
    raise UnknownNameError(f"unknown landmark scheme {name_or_count!r} (known: {sorted(SCHEMES)})")


def custom_scheme(num_landmarks: int, flip_pairs=None, eye_corners=None,
                  name: str = "custom") -> LandmarkScheme:
    """A scheme for a user's own markup: without flip_pairs the data loader refuses to flip."""
    fp = tuple((int(a), int(b)) for a, b in flip_pairs) if flip_pairs is not None else None
    ec = (int(eye_corners[0]), int(eye_corners[1])) if eye_corners is not None else None
    return LandmarkScheme(name=name, num_landmarks=int(num_landmarks), flip_pairs=fp,
                          eye_corners=ec)


def scheme_for(num_landmarks: int) -> LandmarkScheme:
    """The built-in scheme for this count, or a scheme with no flip map and no normaliser."""
    return _BY_COUNT.get(num_landmarks) or custom_scheme(num_landmarks)
