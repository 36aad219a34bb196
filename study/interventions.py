"""The intervention nets: a correct learner given the broken net's error, to show what in
the broken lines' gradients makes the broken net fall short (docs/METHODS.md, "Why").

Both train as the original net does, but for the step of their conv weights. At every
step the broken gradient (broken_net's lines) and the true one are computed at the same
weights, and per group of conv weights (W1 = W1a, W1b; W2 = W2a..W2d), c being the cosine
of the broken gradient with the true one:

- "matched noise": the true gradient turned by a random rotation to cosine c, and made as
  long as the broken one: the size of the broken lines' direction error, without its
  structure;
- "scaled true": the true gradient times c, the progress a broken step makes to first
  order if it is as long as the true one: a slower but correct learner of the conv
  layers (the dense head steps at the full rate, as in every net).

redirected() is the arithmetic, one row a run, shared by the reference (Redirect, an
on_step hook for broken_net.train) and the lock-step batches (lockstep.py), so that both
give the same bits. The matched noise draws its rotations from a generator of its own
(noise_generator(seed)), one (steps, conv weights) block an epoch.
"""
import numpy as np

import broken_net
from original_net import NAMES
from study.registry import MATCHED, SCALED

KINDS = (MATCHED, SCALED)
CONV_GROUPS = (NAMES[:2], NAMES[2:6])  # W1a, W1b; W2a..W2d: the weights a broken line reaches
NOISE_STREAM = 1  # the matched noise's generator: default_rng([seed, 1]), not the weights'


def noise_generator(seed):
    """The generator of a matched-noise run's rotations: its own stream of the seed."""
    return np.random.default_rng([seed, NOISE_STREAM])


def row_dot(a, b):
    """The dot product of each row of a with the same row of b, (R, n) -> (R,): one BLAS
    dot a row, whatever R, so that a batch's rows equal a run's alone bit for bit."""
    return (a[:, None, :] @ b[:, :, None]).reshape(-1)


def redirected(kind, broken, true, noise=None):
    """The gradient an intervention net steps by, for one group of conv weights: broken
    and true (R, n), each row a run's; noise (R, n), standard normal, for MATCHED.

    The cosine c of a row's broken gradient with its true one is 0 where either is 0.
    SCALED: c times the true gradient. MATCHED: |broken| (c t + sqrt(1 - c^2) u), with t
    the true gradient's direction and u the noise's direction across it (a random
    direction where the true gradient is 0)."""
    bb, tt, bt = row_dot(broken, broken), row_dot(true, true), row_dot(broken, true)
    nb, nt = np.sqrt(bb), np.sqrt(tt)
    both = (nb > 0) & (nt > 0)
    cosine = np.where(both, bt / np.where(both, nb * nt, 1.0), 0.0)
    if kind == SCALED:
        return cosine[:, None] * true
    along = (np.where(nt > 0, 1.0, 0.0) / np.where(nt > 0, nt, 1.0))[:, None] * true
    across = noise - row_dot(noise, along)[:, None] * along
    na = np.sqrt(row_dot(across, across))
    across = across / np.where(na > 0, na, 1.0)[:, None]
    sine = np.sqrt(np.maximum(0.0, 1.0 - cosine * cosine))
    return nb[:, None] * (cosine[:, None] * along + sine[:, None] * across)


class Redirect:
    """The reference of an intervention net: an on_step hook for broken_net.train (with
    both broken lines), which replaces the broken conv gradients by the intervention's
    before the update. steps: the steps of an epoch (the noise is drawn an epoch at a
    time, as the batches draw it)."""

    def __init__(self, kind, seed, steps):
        if kind not in KINDS:
            raise ValueError(f"unknown intervention {kind!r}: choose from {', '.join(KINDS)}")
        self.kind, self.steps, self.step = kind, steps, 0
        self.rng = noise_generator(seed) if kind == MATCHED else None
        self.noise = None

    def __call__(self, params, cache, y, grads):
        row = self.step % self.steps
        if self.rng is not None and row == 0:
            self.noise = self.rng.standard_normal((self.steps, conv_size(params)))
        true = broken_net.backward(params, cache, y, breaks=())
        start = 0
        for names in CONV_GROUPS:
            size = sum(grads[name].size for name in names)
            broken = np.concatenate([grads[name].ravel() for name in names])[None]
            right = np.concatenate([true[name].ravel() for name in names])[None]
            noise = None if self.noise is None else self.noise[row, start:start + size][None]
            new = redirected(self.kind, broken, right, noise)[0]
            for name in names:  # in place: train() steps by these arrays
                grads[name][...] = new[:grads[name].size].reshape(grads[name].shape)
                new = new[grads[name].size:]
            start += size
        self.step += 1


def conv_size(params):
    """How many conv weights a net has (W1a..W2d): 54."""
    return sum(params[name].size for names in CONV_GROUPS for name in names)
