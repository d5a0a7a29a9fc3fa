"""Pose-balanced sampling: each face's yaw from its landmarks, band weights, the epoch's draw, and
training that uses them (train.balance, train.epoch_size)."""
from __future__ import annotations

import numpy as np
import pytest

from litehrnet_plus.engine.sampling import epoch_order, landmark_yaw, yaw_weights
from litehrnet_plus.inference.headpose import face_model, rotation_from_angles
from litehrnet_plus.schemes import WFLW98_TO_IBUG68


def turned_head(yaw: float, pitch: float = 0.0, roll: float = 0.0) -> np.ndarray:
    """The generic head's 68 points turned by (yaw, pitch, roll), projected orthographically."""
    pts = face_model() @ rotation_from_angles(yaw, pitch, roll).T
    return pts[:, :2] * 1.7 + np.array([200.0, 150.0])


@pytest.mark.parametrize("yaw", [-70, -40, -10, 0, 25, 55, 80])
def test_landmark_yaw_reads_the_turn(yaw):
    assert landmark_yaw(turned_head(yaw, pitch=8, roll=-12)) == pytest.approx(yaw, abs=2.0)


def test_landmark_yaw_reads_98_point_faces_through_their_68_subset():
    pts98 = np.zeros((98, 2))
    pts98[list(WFLW98_TO_IBUG68)] = turned_head(35)
    assert landmark_yaw(pts98) == pytest.approx(35, abs=2.0)


def test_yaw_weights_give_each_band_the_same_share_up_to_the_cap():
    yaws = np.r_[np.zeros(80), np.full(15, 20.0), np.full(10, -50.0)]
    w = yaw_weights(yaws)
    assert w.sum() == pytest.approx(1.0)
    shares = [w[:80].sum(), w[80:95].sum(), w[95:].sum()]
    assert shares == pytest.approx([1 / 3] * 3)
    # one face alone in a band: capped at 10x the weight of a face in the fullest band
    lone = yaw_weights(np.r_[np.zeros(100), [70.0]])
    assert lone[-1] / lone[0] == pytest.approx(10.0)


def test_epoch_order_is_the_old_permutation_when_unweighted():
    np.testing.assert_array_equal(epoch_order(50, 3, 4), np.random.default_rng([3, 4, 7]).permutation(50))
    longer = epoch_order(10, 0, 0, size=25)
    assert len(longer) == 25 and sorted(longer[:20]) == sorted(list(range(10)) * 2)


def test_weighted_epoch_order_draws_by_the_weights():
    w = np.array([0.7, 0.2, 0.1])
    draws = epoch_order(3, 0, 0, size=20000, weights=w)
    np.testing.assert_allclose(np.bincount(draws) / 20000, w, atol=0.015)
    assert not np.array_equal(draws, epoch_order(3, 0, 1, size=20000, weights=w))


def test_training_with_balance_and_a_fixed_epoch_size(tmp_path):
    pytest.importorskip("torch")
    from synthetic import make_300w, tiny_config

    from litehrnet_plus.engine.config import config_from_dict
    from litehrnet_plus.engine.train import train
    from litehrnet_plus.errors import ConfigError

    data = make_300w(tmp_path / "data", {"afw": 10, "lfpw/testset": 4})
    said = []
    raw = tiny_config(data, tmp_path / "run", epochs=1, balance="yaw", epoch_size=24)
    train(config_from_dict(raw), progress=False, log=said.append)
    assert any(s.startswith("pose balance: |yaw| bands") for s in said)
    rows = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert len(rows) == 2
    with pytest.raises(ConfigError, match="train.balance"):
        config_from_dict(tiny_config(data, tmp_path / "x", balance="pitch"))


def test_sample_weights_give_each_source_its_share():
    from litehrnet_plus.engine.sampling import sample_weights
    assert sample_weights([10, 30], [None, None]) is None
    w = sample_weights([10, 30], [0.5, None])
    assert w[:10].sum() == pytest.approx(0.5) and w[10:].sum() == pytest.approx(0.5)
    assert np.allclose(w[:10], w[0]) and np.allclose(w[10:], w[10])
    # no shares but balancing: one source, weights by yaw band
    yaws = np.r_[np.zeros(30), np.full(10, 40.0)]
    b = sample_weights([40], [None], yaws)
    assert b[:30].sum() == pytest.approx(0.5)
    # shares and balancing together: each source its share, balanced inside
    both = sample_weights([20, 20], [0.25, None], np.r_[np.zeros(15), np.full(5, 20.0), np.full(20, 60.0)])
    assert both[:20].sum() == pytest.approx(0.25) and both[:15].sum() == pytest.approx(0.125)
    with pytest.raises(ValueError, match="add up"):
        sample_weights([5, 5], [0.7, 0.6])


def test_config_refuses_shares_that_do_not_add_up(tmp_path):
    pytest.importorskip("yaml")
    from synthetic import tiny_config

    from litehrnet_plus.engine.config import config_from_dict
    from litehrnet_plus.errors import ConfigError
    raw = tiny_config(tmp_path, tmp_path / "run")
    raw["data"]["share"] = 0.7
    raw["data"]["extra"] = [{"kind": "pts", "root": str(tmp_path), "share": 0.6}]
    with pytest.raises(ConfigError, match="shares"):
        config_from_dict(raw)
