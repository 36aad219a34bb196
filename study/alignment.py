"""The alignment measure of compare.py --alignment: how far a broken gradient points
from the true one at the same weights.

Per step, the broken net's gradient and the true one (backward without breaks) at the
same weights; per group of weights (GROUPS) their cosine and the share of entries with
equal signs, averaged over each epoch's steps. AlignmentMeter measures one run of
broken_net.train (the reference); BatchMeter the same inside a lock-step batch, where
the dense part (W3, W4, W5) is shared and the conv part is backward_conv without breaks.
"""
import numpy as np

import broken_net
from study import lockstep
from original_net import NAMES

# Alignment groups: W1 = W1a, W1b; W2 = W2a..W2d; W3; W4; W5.
GROUPS = {"W1": lockstep.LAYER1, "W2": lockstep.LAYER2, "W3": ("W3",), "W4": ("W4",),
          "W5": ("W5",)}


def alignment(a, b, starts):
    """Cosine similarity and fraction of equal signs of a and b, per group.

    a and b are (..., n); group g is [..., starts[g]:starts[g+1]]. Identical groups
    score exactly 1; where both parts are zero the cosine is 1 (they agree), where only
    one is, 0: never NaN.
    """
    ends = np.append(starts[1:], a.shape[-1])
    cosine = np.ones(a.shape[:-1] + (len(starts),))
    signs = np.ones_like(cosine)
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
    return cosine, signs


def group_starts(params):
    """Where each alignment group starts in the flat weight vector of params."""
    sizes = [sum(params[name].size for name in names) for names in GROUPS.values()]
    return np.cumsum([0] + sizes[:-1])


class AlignmentMeter:
    """The measure on one run: an on_step hook for broken_net.train (the reference).

    Each step stores the broken gradient and the true one at the same weights
    (backward with no breaks) as rows of an epoch's buffer; at the epoch's end the
    per-step cosines and sign agreements are computed at once and averaged.
    """

    def __init__(self, params, steps_per_epoch, epochs):
        self.starts = group_starts(params)
        self.broken = np.empty((steps_per_epoch, sum(p.size for p in params.values())))
        self.true = np.empty_like(self.broken)
        self.means = np.zeros((epochs, 2, len(GROUPS)))  # per epoch: cosine, signs; groups
        self.step = 0

    def __call__(self, params, cache, y, grads):
        epoch, row = divmod(self.step, len(self.broken))
        true = broken_net.backward(params, cache, y, breaks=())
        for grad, buffer in ((grads, self.broken), (true, self.true)):
            np.concatenate([grad[name].ravel() for name in NAMES], out=buffer[row])
        if row == len(self.broken) - 1:
            cosine, signs = alignment(self.broken, self.true, self.starts)
            self.means[epoch] = cosine.mean(axis=0), signs.mean(axis=0)
        self.step += 1


class BatchMeter:
    """AlignmentMeter's measure for the runs in align, inside the batch.

    The broken and the true gradient share the dense part (W3, W4, W5), computed once,
    so those groups score exactly 1, as in AlignmentMeter, where they are equal; for W1
    and W2 the true gradient comes from the conv part of backward without breaks.
    """

    def __init__(self, batch, params, align, steps):
        lo, hi = min(align), max(align) + 1
        if list(align) != list(range(lo, hi)):
            raise ValueError("the aligned runs must be consecutive")
        self.batch, self.runs = batch, slice(lo, hi)
        self.broken = np.empty((hi - lo, steps, lockstep.CONV))
        self.true = np.empty_like(self.broken)
        self.starts = group_starts(params)[:2]
        self.means = [[] for _ in range(hi - lo)]  # per run: an (2, groups) array an epoch

    def step(self, cache, d_p2, i):
        runs, batch, true = self.runs, self.batch, self.true
        # The aligned runs' part of the cache; their flat indices made relative to it.
        sub = {key: cache[key][runs] for key in ("patches1", "z1", "patches2", "z2", "p2")}
        sub["at1"] = cache["at1"][runs] - runs.start * lockstep.Z1
        sub["at2"] = cache["at2"][runs] - runs.start * lockstep.Z2
        batch.backward_conv(sub, d_p2[runs], batch.k2[runs], None, None,
                            true[:, i, lockstep.K1].reshape(-1, 2, 9),
                            true[:, i, lockstep.K2].reshape(-1, 2, 2, 9))
        self.broken[:, i] = batch.grad[runs, :lockstep.CONV]

    def end_epoch(self):
        for means, broken, true in zip(self.means, self.broken, self.true):
            cosine, signs = alignment(broken, true, self.starts)
            epoch = np.ones((2, len(GROUPS)))
            epoch[:, :2] = cosine.mean(axis=0), signs.mean(axis=0)
            means.append(epoch)
