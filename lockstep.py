"""Lock-step training: many runs of one network shape at once, bit for bit as the nets.

original_net.py and broken_net.py train one run, one image per step; on 8x8 images
their time goes to numpy's per-call overhead (about 120 calls a step), not to arithmetic.
Here R independent runs take their steps together: every array gains a leading run
axis, and each run keeps its own images and their order, its weights, velocity and
broken lines. Nothing is summed over runs. Every number is computed by the operation
the nets use, on the same operands in the same order (a stacked matmul makes one BLAS
call per run, with the nets' shapes and strides; the sigmoid and the cost are Python
floats per run, as in the nets), so each run's epoch costs and final weights equal a
separate original_net.train / broken_net.train run bit for bit. test_scripts.py proves
it; compare.py trains all its runs here.

It also holds the alignment measure of compare.py --alignment: how far a broken
gradient points from the true one at the same weights.
"""
import math

import numpy as np

import broken_net
import original_net
from original_net import COLS4, INDEX8, NAMES, VALID8

# Alignment groups: W1 = W1a, W1b; W2 = W2a..W2d; W3; W4; W5.
GROUPS = {"W1": ("W1a", "W1b"), "W2": ("W2a", "W2b", "W2c", "W2d"),
          "W3": ("W3",), "W4": ("W4",), "W5": ("W5",)}
CONV = 54  # W1a..W2d are the first 54 weights: the only ones a broken line reaches
# What the conv part of backward reads from the forward pass's cache.
CONV_CACHE = ("patches1", "z1", "first1", "patches2", "z2", "a2", "first2")

# Pooling masks as floats: ROUTE[k] is 1.0 at position k of a 2x2 window and 0.0
# elsewhere (the nets' FIRST[k]); ROUTE_T[k] is that mask with the window transposed.
# Multiplying by a float mask gives the same bits as by the nets' boolean one.
ROUTE = np.eye(4)
ROUTE_T = ROUTE[[0, 2, 1, 3]]


class RunDiverged(ArithmeticError):
    """A run of the batch stopped being finite: .run is its index (None if no single run
    could be named), str() the message its net gives."""

    def __init__(self, run, message):
        super().__init__(message)
        self.run = run


# ---------------------------------------------------------------- the alignment measure

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


# ---------------------------------------------------------------- the batch

def pool(maps, offsets):
    """2x2 max pooling of maps (runs, C, n, n, 4) in window layout, as original_net.maxpool.

    Returns the pooled maps and, per window, the position of its first maximum (where
    its gradient goes back to). offsets: the flat index of each window's position 0.
    """
    first = maps.argmax(axis=-1)
    return maps.reshape(-1).take(first + offsets), first


class Batch:
    """R runs of one shape: their weights, velocities and gradients as rows of (R, P)
    arrays, with the nets' forward and backward written for a leading run axis."""

    def __init__(self, params, breaks):
        runs = self.runs = len(params)
        shapes = [params[0][name].shape for name in NAMES]
        starts = np.cumsum([0] + [math.prod(shape) for shape in shapes])
        spans = list(zip(NAMES, starts, starts[1:], shapes))
        self.theta = np.stack([np.concatenate([p[name].ravel() for name in NAMES])
                               for p in params])
        self.velocity = np.zeros_like(self.theta)
        self.grad = np.empty_like(self.theta)
        self.w = {name: self.theta[:, lo:hi].reshape((runs,) + shape)
                  for name, lo, hi, shape in spans}
        self.g = {name: self.grad[:, lo:hi].reshape((runs,) + shape)
                  for name, lo, hi, shape in spans}
        self.k1 = self.theta[:, :18].reshape(runs, 2, 9)           # [W1a, W1b]
        self.k2 = self.theta[:, 18:CONV].reshape(runs, 2, 2, 9)    # [[W2a, W2b], [W2c, W2d]]
        self.g_k1 = self.grad[:, :18].reshape(runs, 2, 9)
        self.g_k2 = self.grad[:, 18:CONV].reshape(runs, 2, 2, 9)
        # The callers' dicts become views of their rows, as the nets' train() does it.
        for r, p in enumerate(params):
            p.update({name: self.theta[r, lo:hi].reshape(shape)
                      for name, lo, hi, shape in spans})
        # Per-run switches of the broken lines; None where no run of the batch has one.
        green = np.array(["green" in b for b in breaks])
        red = np.array(["red" in b for b in breaks])
        self.green = green.reshape(runs, 1, 1, 1) if green.any() else None
        self.red = red.reshape(runs, 1, 1, 1, 1) if red.any() else None
        self.offsets1 = np.arange(0, runs * 128, 4).reshape(runs, 2, 4, 4)
        self.offsets2 = np.arange(0, runs * 64, 4).reshape(runs, 4, 2, 2)

    def forward(self, patches1):
        """original_net.forward for every run: y_hat (a list of floats) and the cache."""
        w, runs = self.w, self.runs
        # Red star: layer 1.
        z1 = (self.k1 @ patches1.transpose(0, 2, 1)).reshape(runs, 2, 4, 4, 4)
        a1 = np.arctan(z1)
        a1[:, 0] = np.maximum(z1[:, 0], 0)
        p1, first1 = pool(a1, self.offsets1)
        # Blue star: layer 2.
        patches2 = (p1.reshape(runs, 2, 16) @ COLS4).reshape(runs, 2, 16, 9)
        z2 = (self.k2 @ patches2.transpose(0, 1, 3, 2)).reshape(runs, 4, 2, 2, 4)
        a2 = np.arctan(z2)
        a2[:, 1] = np.maximum(z2[:, 1], 0)
        a2[:, 3] = np.tanh(z2[:, 3])
        p2, first2 = pool(a2, self.offsets2)
        # Green, pink and black stars; the sigmoid in Python floats, as the nets do it.
        f = p2.reshape(runs, 1, 16)
        z3 = f @ w["W3"]
        h3 = np.arctan(z3)
        h4 = np.tanh(h3 @ w["W4"])
        y_hat = [0.5 + 0.5 * math.tanh(0.5 * z) for z in (h4 @ w["W5"]).ravel().tolist()]
        cache = dict(patches1=patches1, z1=z1, first1=first1, patches2=patches2, z2=z2,
                     a2=a2, first2=first2, f=f, z3=z3, h3=h3, h4=h4)
        return y_hat, cache

    def backward_dense(self, cache, y_hat, y):
        """original_net.backward down to layer 2's pooled maps: writes the W3, W4, W5
        gradients and returns d_p2, the gradient at those maps."""
        w, g, c = self.w, self.g, cache
        y_hat = np.array(y_hat)
        d_z5 = ((y_hat - y) * y_hat * (1 - y_hat))[:, None, None]
        h4, z3 = c["h4"], c["z3"]
        d_z4 = w["W5"].transpose(0, 2, 1) * d_z5 * (1 - h4 * h4)           # (R, 1, h4)
        d_z3 = (w["W4"] @ d_z4.transpose(0, 2, 1)).transpose(0, 2, 1) / (1 + z3 * z3)
        d_p2 = (w["W3"] @ d_z3.transpose(0, 2, 1)).reshape(-1, 4, 2, 2)
        np.multiply(c["f"].transpose(0, 2, 1), d_z3, out=g["W3"])
        np.multiply(c["h3"].transpose(0, 2, 1), d_z4, out=g["W4"])
        np.multiply(h4.transpose(0, 2, 1), d_z5, out=g["W5"])
        return d_p2

    @staticmethod
    def backward_conv(cache, d_p2, k2, green, red, d_k1, d_k2):
        """The rest of backward: layer 2 and layer 1, with each run's broken lines
        (green, red: per-run switches, or None), into d_k1 (R, 2, 9), d_k2 (R, 2, 2, 9)."""
        c = cache
        if green is not None:  # GREEN: transpose each 2x2 map of d_p2 in the green runs
            d_p2 = np.where(green, d_p2.transpose(0, 1, 3, 2), d_p2)
        d_a2 = ROUTE.take(c["first2"], axis=0) * d_p2[..., None]
        z2, a2 = c["z2"], c["a2"]
        act2 = 1 / (1 + z2 * z2)
        act2[:, 1] = z2[:, 1] > 0
        act2[:, 3] = 1 - a2[:, 3] * a2[:, 3]
        d_z2 = (d_a2 * act2).reshape(-1, 2, 2, 16)
        np.matmul(d_z2, c["patches2"], out=d_k2)
        d_patches2 = d_z2.transpose(0, 1, 3, 2) @ k2
        d_p1 = (d_patches2.reshape(-1, 2, 144) @ COLS4.T).reshape(-1, 2, 4, 4)
        first1 = c["first1"]
        mask1 = ROUTE.take(first1, axis=0)
        if red is not None:  # RED: transpose each 8x8 mask of layer 1 in the red runs
            flipped = ROUTE_T.take(first1.transpose(0, 1, 3, 2), axis=0)
            mask1 = np.where(red, flipped, mask1)
        d_a1 = mask1 * d_p1[..., None]
        z1 = c["z1"]
        act1 = 1 / (1 + z1 * z1)
        act1[:, 0] = z1[:, 0] > 0
        d_z1 = (d_a1 * act1).reshape(-1, 2, 64)
        np.matmul(d_z1, c["patches1"], out=d_k1)

    def update(self, lr, momentum):
        """v = momentum * v + lr * grad; W = W - v, for every weight of every run."""
        self.velocity *= momentum
        self.grad *= lr
        self.velocity += self.grad
        self.theta -= self.velocity


def train(params, images, labels, breaks, epochs, lr, momentum, align=(), on_epoch=None):
    """Train R runs in lock-step, each exactly as its net's train() would.

    params: R parameter dicts of one shape, trained in place (they become views, as in
    the nets). images (R, N, 8, 8), labels (R, N): each run's training images in its
    order. breaks: per run, its broken lines: () is the original net, ("green",),
    ("red",) or ("green", "red") the broken one. align: consecutive indices of runs
    whose broken gradient is measured against the true one (AlignmentMeter's measure).
    on_epoch(epoch), if given, is called after each epoch.

    Returns the epoch costs (a list per run) and, per run in align, its (epochs, 2,
    groups) array of per-epoch mean cosine and sign agreement. Raises RunDiverged when
    a run's numbers stop being finite, as its net raises TrainingDiverged.
    """
    runs, steps = len(params), images.shape[1]
    batch = Batch(params, breaks)
    # Every image's layer-1 patches, gathered once: (N, R, 64, 9), one step a block.
    patches = images.reshape(runs, steps, 64)[:, :, INDEX8] * VALID8
    patches = np.ascontiguousarray(patches.transpose(1, 0, 2, 3))
    targets = np.asarray(labels, dtype=float).T.copy()       # (N, R)
    target_lists = targets.tolist()
    meter = BatchMeter(batch, params[0], align, steps) if len(align) else None
    histories = [[] for _ in range(runs)]
    for epoch in range(1, epochs + 1):
        costs = [0.0] * runs
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            for i in range(steps):
                try:
                    y_hat, cache = batch.forward(patches[i])
                    d_p2 = batch.backward_dense(cache, y_hat, targets[i])
                    batch.backward_conv(cache, d_p2, batch.k2, batch.green, batch.red,
                                        batch.g_k1, batch.g_k2)
                    if meter:
                        meter.step(cache, d_p2, i)
                except FloatingPointError as error:
                    raise replay(params, images, labels, breaks, align, epoch, i, error,
                                 lr) from None
                try:
                    batch.update(lr, momentum)
                except FloatingPointError as error:
                    raise RunDiverged(first_broken(batch), diverged(epoch, error, lr)) from None
                costs = [cost + 0.5 * (p - y) ** 2
                         for cost, p, y in zip(costs, y_hat, target_lists[i])]
        for r, cost in enumerate(costs):
            if not math.isfinite(cost) or not np.isfinite(batch.theta[r]).all():
                raise RunDiverged(r, diverged(epoch, f"cost {cost}", lr))
        # As in the nets: flush velocities that decay into slow subnormal numbers.
        batch.velocity[np.abs(batch.velocity) < 1e-200] = 0.0
        for history, cost in zip(histories, costs):
            history.append(cost)
        if meter:
            meter.end_epoch()
        if on_epoch:
            on_epoch(epoch)
    return histories, ([np.array(means) for means in meter.means] if meter else [])


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
        self.broken = np.empty((hi - lo, steps, CONV))
        self.true = np.empty_like(self.broken)
        self.starts = group_starts(params)[:2]
        self.means = [[] for _ in range(hi - lo)]  # per run: an (2, groups) array an epoch

    def step(self, cache, d_p2, i):
        runs, batch, true = self.runs, self.batch, self.true
        sub = {key: cache[key][runs] for key in CONV_CACHE}
        batch.backward_conv(sub, d_p2[runs], batch.k2[runs], None, None,
                            true[:, i, :18].reshape(-1, 2, 9),
                            true[:, i, 18:].reshape(-1, 2, 2, 9))
        self.broken[:, i] = batch.grad[runs, :CONV]

    def end_epoch(self):
        for means, broken, true in zip(self.means, self.broken, self.true):
            cosine, signs = alignment(broken, true, self.starts)
            epoch = np.ones((2, len(GROUPS)))
            epoch[:, :2] = cosine.mean(axis=0), signs.mean(axis=0)
            means.append(epoch)


# ---------------------------------------------------------------- divergence

def diverged(epoch, what, lr):
    """The nets' TrainingDiverged message."""
    return f"training diverged in epoch {epoch} ({what}); try a smaller --lr than {lr}"


def first_broken(batch):
    """The first run whose gradient, velocity or weights are no longer finite."""
    for r in range(batch.runs):
        if not all(np.isfinite(a[r]).all() for a in (batch.grad, batch.velocity, batch.theta)):
            return r
    return None


def replay(params, images, labels, breaks, align, epoch, i, error, lr):
    """The RunDiverged for a step that failed in forward or backward: each run's step
    is replayed with its net's own functions (the weights are still those of the
    step's start), and the first run that fails is named, with its net's message."""
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        for r, (p, b) in enumerate(zip(params, breaks)):
            x, y = images[r, i], float(labels[r, i])
            try:
                if b:
                    cache = broken_net.forward(p, x)[1]
                    broken_net.backward(p, cache, y, b)
                    if r in align:
                        broken_net.backward(p, cache, y, ())
                else:
                    original_net.backward(p, original_net.forward(p, x)[1], y)
            except FloatingPointError as own:
                return RunDiverged(r, diverged(epoch, own, lr))
    return RunDiverged(None, diverged(epoch, error, lr))


# ---------------------------------------------------------------- python3 lockstep.py

def main():
    """Measure, side by side in one process, a step of original_net.train against a
    run-step of lock-step batches of the article's network (W3 16x28, W4 28x36)."""
    import time
    x, y, *_ = original_net.load_data(0)
    x, y, epochs = x[:100], y[:100], 2

    def seconds(train):
        start = time.perf_counter()
        train()
        return time.perf_counter() - start

    def batch(runs):
        params = [original_net.init_params(seed) for seed in range(runs)]
        images, labels = np.stack([x] * runs), np.stack([y] * runs)
        breaks = [()] * (runs - runs // 2) + [("green", "red")] * (runs // 2)
        return lambda: train(params, images, labels, breaks, epochs, 0.001, 0.9)

    sizes = (1, 5, 10, 20, 40)
    best = {}
    for _ in range(5):  # the best of five, each measured beside the others
        best["one"] = min(best.get("one", 1e9), seconds(
            lambda: original_net.train(original_net.init_params(0), x, y, epochs)))
        for runs in sizes:
            best[runs] = min(best.get(runs, 1e9), seconds(batch(runs)) / runs)
    step = best["one"] / (epochs * len(x))
    print(f"one original_net.train step: {step * 1e6:.1f} us")
    for runs in sizes:
        per = best[runs] / (epochs * len(x))
        print(f"lock-step batch of {original_net.count(runs, 'run'):7} ({runs // 2} broken): "
              f"{per * 1e6:5.1f} us a run-step = {per / step:.2f}x")


if __name__ == "__main__":
    main()
