"""study/alignment.py: the alignment of a broken gradient with the true one."""

import numpy as np

import broken_net
from study import alignment


def test_alignment_helper_on_hand_made_vectors():
    starts = np.array([0, 2, 4, 6])
    a = np.array([1.0, 0.0, 1.0, 2.0, 0.0, 0.0, 3.0, -1.0])
    b = np.array([0.0, 5.0, -2.0, -4.0, 0.0, 0.0, 0.0, 0.0])
    cosine, signs = alignment.alignment(a, b, starts)
    assert cosine.tolist() == [0.0, -1.0, 1.0, 0.0]  # orthogonal, opposite, both zero, one zero
    assert signs.tolist() == [0.0, 0.0, 1.0, 0.0]
    assert not np.isnan(cosine).any()
    same = np.random.default_rng(0).standard_normal(8)
    assert alignment.alignment(same, same, starts)[0].tolist() == [1.0] * 4


def aligned_training(breaks, epochs=2):
    x_train, y_train, *_ = broken_net.load_data(seed=1)
    params = broken_net.init_params(1, (18, 20))
    meter = alignment.AlignmentMeter(params, 40, epochs)
    broken_net.train(params, x_train[:40], y_train[:40], epochs, on_step=meter, breaks=breaks)
    return meter.means  # (epochs, [cosine, signs], groups W1..W5)


def test_alignment_is_exactly_one_without_breaks():
    assert (aligned_training(()) == 1.0).all()


def test_alignment_with_breaks_drops_only_in_the_broken_layers():
    per_epoch = aligned_training(("green", "red"))
    assert (per_epoch[:, :, 2:] == 1.0).all()  # W3, W4, W5
    assert (per_epoch[:, 0, :2] < 1.0).all()   # W1, W2 cosines
    red = aligned_training(("red",))
    assert (red[:, :, 1:] == 1.0).all() and (red[:, 0, 0] < 1.0).all()
