"""The alignment measure of compare.py --alignment: how far a broken gradient points
from the true one at the same weights.

Per step, the broken net's gradient and the true one (backward without breaks) at the
same weights; per group of weights (registry.GROUPS) their cosine and the share of
entries with equal signs, averaged over each epoch's steps, and the ratio of their
norms (the broken gradient's size against the true one's), its median over the epoch's
steps: the direction and the size of the step a broken line takes. AlignmentMeter
measures one run of broken_net.train (the reference); lockstep.BatchMeter the same
inside a lock-step batch, with alignment() and epoch_summary() below.
"""
import numpy as np

import broken_net
from original_net import NAMES
from study.registry import GROUPS

MEASURES = ("cosine", "signs", "norm_ratio")  # per epoch: mean, mean, median over its steps


def alignment(a, b, starts):
    """Cosine similarity, fraction of equal signs and norm ratio |a| / |b| of a and b,
    per group.

    a and b are (..., n); group g is [..., starts[g]:starts[g+1]]. Identical groups
    score exactly 1; where both parts are zero the cosine and the ratio are 1 (they
    agree), where only a's is, 0 and 0, where only b's is, 0 and inf: never NaN.
    """
    ends = np.append(starts[1:], a.shape[-1])
    cosine = np.ones(a.shape[:-1] + (len(starts),))
    signs = np.ones_like(cosine)
    ratio = np.ones_like(cosine)
    for g, (lo, hi) in enumerate(zip(starts, ends)):
        x, y = a[..., lo:hi], b[..., lo:hi]
        if np.array_equal(x, y):  # the common case for the layers no break reaches
            continue
        dot, xx, yy = (x * y).sum(axis=-1), (x * x).sum(axis=-1), (y * y).sum(axis=-1)
        # sqrt(xx * yy) keeps the cosine of equal rows exactly 1; where xx * yy would
        # under- or overflow, the product of the roots does the job.
        product = xx * yy
        norms = np.where((product > 1e-300) & (product < 1e300), np.sqrt(product),
                         np.sqrt(xx) * np.sqrt(yy))
        both_zero = (xx == 0) & (yy == 0)
        cosine[..., g] = np.where(norms > 0, dot / np.where(norms > 0, norms, 1.0), both_zero)
        signs[..., g] = (np.sign(x) == np.sign(y)).mean(axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio[..., g] = np.where(both_zero, 1.0, np.sqrt(xx) / np.sqrt(yy))
    return cosine, signs, ratio


def epoch_summary(broken, true, starts):
    """An epoch's alignment (MEASURES by group) from its steps' gradients, broken and
    true (steps, n): the mean cosine, the mean share of equal signs, the median ratio."""
    cosine, signs, ratio = alignment(broken, true, starts)
    return np.array([cosine.mean(axis=0), signs.mean(axis=0), np.median(ratio, axis=0)])


def group_starts(params):
    """Where each alignment group starts in the flat weight vector of params."""
    sizes = [sum(params[name].size for name in names) for names in GROUPS.values()]
    return np.cumsum([0] + sizes[:-1])


class AlignmentMeter:
    """The measure on one run: an on_step hook for broken_net.train (the reference).

    Each step stores the broken gradient and the true one at the same weights
    (backward with no breaks) as rows of an epoch's buffer; at the epoch's end the
    per-step measures are computed at once and summarised (epoch_summary).
    """

    def __init__(self, params, steps_per_epoch, epochs):
        self.starts = group_starts(params)
        self.broken = np.empty((steps_per_epoch, sum(p.size for p in params.values())))
        self.true = np.empty_like(self.broken)
        self.means = np.zeros((epochs, len(MEASURES), len(GROUPS)))  # per epoch
        self.step = 0

    def __call__(self, params, cache, y, grads):
        epoch, row = divmod(self.step, len(self.broken))
        true = broken_net.backward(params, cache, y, breaks=())
        for grad, buffer in ((grads, self.broken), (true, self.true)):
            np.concatenate([grad[name].ravel() for name in NAMES], out=buffer[row])
        if row == len(self.broken) - 1:
            self.means[epoch] = epoch_summary(self.broken, self.true, self.starts)
        self.step += 1
