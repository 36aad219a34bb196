"""study/alignment.py: the alignment of a broken gradient with the true one."""
import numpy as np
import pytest

import broken_net
from study import alignment


def test_alignment_helper_on_hand_made_vectors():
    starts = np.array([0, 2, 4, 6])
    a = np.array([1.0, 0.0, 1.0, 2.0, 0.0, 0.0, 3.0, -1.0])
    b = np.array([0.0, 5.0, -2.0, -4.0, 0.0, 0.0, 0.0, 0.0])
    cosine, signs, ratio = alignment.alignment(a, b, starts)
    assert cosine.tolist() == [0.0, -1.0, 1.0, 0.0]  # orthogonal, opposite, both zero, one zero
    assert signs.tolist() == [0.0, 0.0, 1.0, 0.0]
    assert ratio.tolist() == [0.2, 0.5, 1.0, np.inf]  # |a| / |b|: 1/5, sqrt(5)/sqrt(20), ...
    assert not np.isnan(cosine).any() and not np.isnan(ratio).any()
    same = np.random.default_rng(0).standard_normal(8)
    assert [m.tolist() for m in alignment.alignment(same, same, starts)] == [[1.0] * 4] * 3
    twice = alignment.alignment(2 * same, same, starts)  # the same direction, twice the size
    assert twice[0] == pytest.approx([1.0] * 4) and twice[2].tolist() == [2.0] * 4


def test_an_epochs_summary_is_the_mean_direction_and_the_median_size():
    starts = np.array([0, 2])
    broken = np.array([[1.0, 0.0, 3.0, 0.0], [1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 2.0, 0.0]])
    true = np.array([[1.0, 0.0, 1.0, 0.0], [2.0, 0.0, 1.0, 0.0], [1.0, 0.0, 1.0, 0.0]])
    cosine, signs, ratio = alignment.epoch_summary(broken, true, starts)
    assert cosine.tolist() == [2 / 3, 1.0] and signs.tolist() == [2 / 3, 1.0]
    assert ratio.tolist() == [1.0, 2.0]  # medians of (1, 0.5, 1) and (3, 1, 2)


def aligned_training(breaks, epochs=2):
    x_train, y_train, *_ = broken_net.load_data(seed=1)
    params = broken_net.init_params(1, (18, 20))
    meter = alignment.AlignmentMeter(params, 40, epochs)
    broken_net.train(params, x_train[:40], y_train[:40], epochs, on_step=meter, breaks=breaks)
    return meter.means  # (epochs, alignment.MEASURES, groups W1..W5)


def test_alignment_is_exactly_one_without_breaks():
    assert (aligned_training(()) == 1.0).all()


def test_alignment_with_breaks_drops_only_in_the_broken_layers():
    per_epoch = aligned_training(("green", "red"))
    assert (per_epoch[:, :, 2:] == 1.0).all()  # W3, W4, W5
    assert (per_epoch[:, 0, :2] < 1.0).all()   # W1, W2 cosines
    assert (per_epoch[:, 2, :2] != 1.0).all()  # and their sizes
    red = aligned_training(("red",))
    assert (red[:, :, 1:] == 1.0).all() and (red[:, 0, 0] < 1.0).all()
