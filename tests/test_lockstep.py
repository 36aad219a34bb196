"""study/lockstep.py: lock-step batches train every run bit for bit as its net alone."""

import numpy as np
import pytest

import broken_net
import original_net
from study import alignment, interventions, lockstep


BREAK_CHOICES = [(), ("green",), ("red",), ("green", "red")]


def lockstep_runs(hidden, seeds=(0, 1, 2), images=50):
    """A batch of every break choice for each seed, originals first (the broken runs,
    measured for alignment, must be consecutive)."""
    runs = [(seed, b) for b in BREAK_CHOICES for seed in seeds]
    data = {seed: original_net.load_data(seed) for seed in seeds}
    x = np.stack([data[seed][0][:images] for seed, _ in runs])
    y = np.stack([data[seed][1][:images] for seed, _ in runs])
    return runs, x, y


@pytest.mark.parametrize("hidden", [(18, 20), (48, 56)])
def test_lockstep_equals_separate_runs_bit_for_bit(hidden):
    runs, x, y = lockstep_runs(hidden)
    epochs = 3
    params = [original_net.init_params(seed, hidden) for seed, _ in runs]
    aligned = [i for i, (_, b) in enumerate(runs) if b]
    histories, alignments, _ = lockstep.train(params, x, y, [b for _, b in runs], epochs,
                                              0.001, 0.9, align=aligned)
    for r, (seed, breaks) in enumerate(runs):
        alone = original_net.init_params(seed, hidden)
        meter = alignment.AlignmentMeter(alone, x.shape[1], epochs) if breaks else None
        if breaks:
            history = broken_net.train(alone, x[r], y[r], epochs, 0.001, 0.9, on_step=meter,
                                       breaks=breaks)
        else:
            history = original_net.train(alone, x[r], y[r], epochs, 0.001, 0.9)
        assert history == histories[r], (seed, breaks)
        for name in original_net.NAMES:
            assert params[r][name].tobytes() == alone[name].tobytes(), (seed, breaks, name)
        if breaks:
            assert alignments[aligned.index(r)].tobytes() == meter.means.tobytes(), (seed, breaks)
    assert len({tuple(h) for h in histories}) == len(runs)  # the runs really differ


def test_lockstep_runs_at_their_own_rates_equal_their_nets_bit_for_bit():
    runs, x, y = lockstep_runs((18, 20), seeds=(0, 1), images=30)
    rates = [0.0003, 0.001, 0.003, 0.01] * 2
    params = [original_net.init_params(seed, (18, 20)) for seed, _ in runs]
    histories = lockstep.train(params, x, y, [b for _, b in runs], 2, rates, 0.9).histories
    for r, (seed, breaks) in enumerate(runs):
        alone = original_net.init_params(seed, (18, 20))
        history = broken_net.train(alone, x[r], y[r], 2, rates[r], 0.9, breaks=breaks)
        assert history == histories[r], (seed, breaks, rates[r])
        for name in original_net.NAMES:
            assert params[r][name].tobytes() == alone[name].tobytes(), (seed, breaks, name)


def freeze_conv(params, cache, y, grads):
    """The frozen-conv control's reference: an on_step hook that zeroes the conv
    gradients (W1a..W2d) before original_net.train's update."""
    for name in original_net.NAMES[:6]:
        grads[name][...] = 0.0


def test_lockstep_frozen_conv_control_equals_its_reference_bit_for_bit():
    seeds, hidden, epochs = (0, 1, 2), (28, 36), 3
    runs, x, y = lockstep_runs(hidden, seeds=seeds, images=40)
    runs = runs[:3] + runs[-3:]  # originals and both-lines broken runs ...
    x, y = np.concatenate([x[:3], x[-3:], x[:3]]), np.concatenate([y[:3], y[-3:], y[:3]])
    frozen = [False] * 6 + [True] * 3  # ... and frozen runs of the same seeds, mixed in
    params = [original_net.init_params(seed, hidden) for seed in seeds * 3]
    start = [{k: v.copy() for k, v in p.items()} for p in params]
    breaks = [b for _, b in runs] + [()] * 3
    histories = lockstep.train(params, x, y, breaks, epochs, 0.001, 0.9,
                               frozen=frozen).histories
    for r in range(6, 9):
        alone = original_net.init_params(seeds[r - 6], hidden)
        history = original_net.train(alone, x[r], y[r], epochs, 0.001, 0.9, on_step=freeze_conv)
        assert history == histories[r]
        for name in original_net.NAMES:
            assert params[r][name].tobytes() == alone[name].tobytes(), name
            frozen_weight = np.array_equal(params[r][name], start[r][name])
            assert frozen_weight == (name in original_net.NAMES[:6]), name  # only W3..W5 learn
    assert histories[6] != histories[0]  # the control trains otherwise than the original


def test_lockstep_exactness_check_can_fail():
    """The comparison above notices one weight one bit off at the start."""
    runs, x, y = lockstep_runs((18, 20), seeds=(0,), images=20)
    params = [original_net.init_params(seed, (18, 20)) for seed, _ in runs]
    params[0]["W1a"][1, 1] = np.nextafter(params[0]["W1a"][1, 1], np.inf)
    lockstep.train(params, x, y, [b for _, b in runs], 2, 0.001, 0.9)
    alone = original_net.init_params(0, (18, 20))
    original_net.train(alone, x[0], y[0], 2, 0.001, 0.9)
    assert [n for n in original_net.NAMES if alone[n].tobytes() != params[0][n].tobytes()]


def test_lockstep_names_the_run_that_diverges_with_its_nets_message():
    runs, x, y = lockstep_runs((18, 20), seeds=(0, 1), images=10)
    params = [original_net.init_params(seed, (18, 20)) for seed, _ in runs]
    params[5]["W1b"][:] = 1e300  # run 5 (seed 1, green) overflows in its first step
    alone = {k: v.copy() for k, v in params[5].items()}
    with pytest.raises(broken_net.TrainingDiverged) as own:
        broken_net.train(alone, x[5], y[5], 2, breaks=("green",))
    with pytest.raises(lockstep.RunDiverged) as batch:
        lockstep.train(params, x, y, [b for _, b in runs], 2, 0.001, 0.9)
    assert batch.value.run == 5 and str(batch.value) == str(own.value)


def test_checkpoints_count_the_nets_own_predictions_and_change_no_bit():
    """The right answers at the checkpoints are those of the nets' predict() on the
    weights of that epoch, and a batch that counts them trains bit for bit as one that
    does not."""
    runs, x, y = lockstep_runs((18, 20), seeds=(0, 1), images=30)
    data = {seed: original_net.load_data(seed) for seed in (0, 1)}
    held = (np.stack([data[seed][2] for seed, _ in runs]),
            np.stack([data[seed][3] for seed, _ in runs]))
    breaks = [b for _, b in runs]
    plain = [original_net.init_params(seed, (18, 20)) for seed, _ in runs]
    counted = [original_net.init_params(seed, (18, 20)) for seed, _ in runs]
    without = lockstep.train(plain, x, y, breaks, 3, 0.001, 0.9)
    found = lockstep.train(counted, x, y, breaks, 3, 0.001, 0.9, held=held, checkpoints=(1, 3))
    assert found.histories == without.histories and found.rights.shape == (len(runs), 2, 2)
    for r, p in enumerate(counted):
        for j, (images, labels) in enumerate([(x[r], y[r]), (held[0][r], held[1][r])]):
            right = int(((original_net.predict(p, images) >= 0.5) == labels).sum())
            assert found.rights[r, 1, j] == right, (r, j)
    assert found.rights[:, 0].tolist() != found.rights[:, 1].tolist()  # epoch 1 is another


def test_intervention_nets_equal_their_reference_bit_for_bit():
    """Matched noise and scaled true, mixed in a batch with original, broken and frozen
    runs: each equals broken_net.train with interventions.Redirect, bit for bit."""
    seeds, hidden, epochs, images = (0, 1, 2), (28, 36), 2, 25
    data = {seed: original_net.load_data(seed) for seed in seeds}
    kinds = [None, interventions.MATCHED, None, interventions.SCALED, interventions.MATCHED]
    plan = [(seed, kind) for kind in kinds for seed in seeds]
    breaks = [() if k is None and i < 3 else ("green", "red") for i, (_, k) in enumerate(plan)]
    x = np.stack([data[seed][0][:images] for seed, _ in plan])
    y = np.stack([data[seed][1][:images] for seed, _ in plan])
    params = [original_net.init_params(seed, hidden) for seed, _ in plan]
    found = lockstep.train(params, x, y, breaks, epochs, 0.001, 0.9,
                           redirect=[k for _, k in plan], seeds=[s for s, _ in plan])
    for r, (seed, kind) in enumerate(plan):
        if kind is None and not breaks[r]:
            continue
        alone = original_net.init_params(seed, hidden)
        hook = kind and interventions.Redirect(kind, seed, images)  # the broken runs: none
        history = broken_net.train(alone, x[r], y[r], epochs, 0.001, 0.9, on_step=hook)
        assert history == found.histories[r], (seed, kind)
        for name in original_net.NAMES:
            assert params[r][name].tobytes() == alone[name].tobytes(), (seed, kind, name)
    histories = [tuple(h) for h in found.histories]
    assert len(set(histories)) == 12  # the four nets train otherwise, seed by seed ...
    assert histories[3:6] == histories[12:15]  # ... and a seed's noise is its own: repeated


def test_an_intervention_keeps_the_broken_cosine_and_its_own_length():
    rng = np.random.default_rng(0)
    broken, true, noise = rng.standard_normal((3, 50, 18))
    true[0] = 0.0  # no true gradient: a random direction, the broken length
    broken[1] = 0.0  # no broken step: no step
    cosine = np.array([0.0, 0.0] + [b @ t / np.linalg.norm(b) / np.linalg.norm(t)
                                     for b, t in zip(broken[2:], true[2:])])
    matched = interventions.redirected(interventions.MATCHED, broken, true, noise)
    scaled = interventions.redirected(interventions.SCALED, broken, true)
    norm = np.linalg.norm
    np.testing.assert_allclose(norm(matched, axis=1), norm(broken, axis=1), atol=1e-12)
    np.testing.assert_allclose([m @ t / norm(m) / norm(t) for m, t in zip(matched[2:], true[2:])],
                               cosine[2:], atol=1e-12)
    np.testing.assert_allclose(scaled, cosine[:, None] * true, atol=1e-15)
    assert not np.allclose(matched[2:], (cosine[:, None] * true)[2:])  # turned, not scaled
    other = interventions.redirected(interventions.MATCHED, broken, true, noise[::-1].copy())
    assert not np.allclose(other[2:], matched[2:])  # the noise chooses the direction
