"""Original net: a two-layer multi-channel CNN with a three-layer dense head, numpy only.

Reproduces Jae Duk Seo's "Only Numpy: Implementing Multi Channel/Layer Convolution
Neural Network on Numpy" (2018): hand-written back-propagation on scikit-learn's digits,
0 against 1. Runs alone (`python original_net.py --help`) or pasted into a notebook cell
or an online interpreter; without scikit-learn it uses four embedded samples.
`python original_net.py --check-gradients` checks every gradient against finite
differences.

The net, for one 8x8 image, with the article's labels (the coloured stars of its figure;
the circle of a star is that layer's activation and pooling).
Every convolution is 3x3, zero-padded (8x8 stays 8x8, 4x4 stays 4x4) and true (the kernel
flipped, as scipy.signal.convolve2d); every pooling is 2x2 max pooling; no biases.

    x: 8x8 image, pixels 0..16
    Red star, layer 1 (two channels, each from x):
        1a = maxpool(ReLU(conv(x, W1a)))          8x8 -> 4x4
        1b = maxpool(arctan(conv(x, W1b)))        8x8 -> 4x4
    Blue star, layer 2 (four channels, two from each map of layer 1):
        2a = maxpool(arctan(conv(1a, W2a)))       4x4 -> 2x2
        2b = maxpool(ReLU(conv(1a, W2b)))         4x4 -> 2x2
        2c = maxpool(arctan(conv(1b, W2c)))       4x4 -> 2x2
        2d = maxpool(tanh(conv(1b, W2d)))         4x4 -> 2x2
    f = [2a, 2b, 2c, 2d], each 2x2 row-major      16
    Green star, layer 3:  h3 = arctan(f @ W3)     W3 16x28 -> 28
    Pink star, layer 4:   h4 = tanh(h3 @ W4)      W4 28x36 -> 36
    Black star, layer 5:  y_hat = sigmoid(h4 @ W5)  W5 36x1  -> the probability of digit 1
    Black box, the cost:  0.5 * (y_hat - y)**2

The code computes this with few numpy calls a step (docs/SPEED.md): a convolution is one
matrix product of its kernels with a table of 3x3 patches, and maps are kept in a window
layout, each 2x2 pooling window's four pixels side by side, so that pooling is one argmax
("convolution as a table look-up", below).
"""
import argparse
import math
import os
import sys
import time

import numpy as np

NAME, SCRIPT = "original net", "original_net.py"
NAMES = ("W1a", "W1b", "W2a", "W2b", "W2c", "W2d", "W3", "W4", "W5")
# The article does not give its learning rate; see docs/METHODS.md ("Hyperparameters").
DEFAULTS = dict(epochs=500, lr=0.001, momentum=0.9, seed=0, hidden=(28, 36), test_size=10)
# Four samples give 4 steps an epoch instead of 350: a larger step suits them.
FOUR_SAMPLE_DEFAULTS = dict(DEFAULTS, lr=0.01)
# The largest network the command line takes: training holds about six copies of the
# weights, so ten million of them need about 0.5 GB (and a second or so a step).
MAX_WEIGHTS = 10_000_000
# The most epochs: a million take a run about eight hours here; more is a typo.
MAX_EPOCHS = 1_000_000


class TrainingDiverged(ArithmeticError):
    """The cost or the weights stopped being finite numbers."""


# ---------------------------------------------------------------- data

def load_data(seed=0, test_size=10, four_samples=False, digits=(0, 1)):
    """Images (N, 8, 8) and labels (N,) for training and testing, and a one-line source.

    Digits A and B of sklearn's load_digits() (0 and 1: 360 images, pixels 0..16), label
    0 for A and 1 for B, shuffled once with the seed; the first test_size images test,
    the rest train. Without scikit-learn, or with four_samples, the four embedded
    samples (digits 0 and 1 only) train and test.
    """
    a, b = digits
    if not four_samples:
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            four_samples = True
    if four_samples:
        if (a, b) != (0, 1):
            raise ValueError(f"--digits {a} {b} needs scikit-learn (the four embedded "
                             "samples are 0 and 1)")
        return FOUR_X, FOUR_Y, FOUR_X, FOUR_Y, "the four embedded samples (train = test)"
    data = load_digits()
    keep = (data.target == a) | (data.target == b)
    images, labels = data.images[keep], (data.target[keep] == b).astype(int)
    if not 1 <= test_size < len(labels):
        raise ValueError(f"--test-size must be from 1 to {len(labels) - 1}, got {test_size}")
    order = np.random.default_rng(seed).permutation(len(labels))
    images, labels = images[order], labels[order]
    return (images[test_size:], labels[test_size:], images[:test_size], labels[:test_size],
            f"sklearn digits {a} and {b}: {len(labels) - test_size} train, {test_size} test")


# ---------------------------------------------------------------- convolution as a table look-up
#
# A 3x3 convolution makes each output pixel the sum of nine products: a kernel weight
# times an input pixel. Written as loops, that is 9 x 64 Python steps for one 8x8 map; here
# it is one matrix product. patches[k, p] holds the input pixel that kernel weight k (of
# the nine, row-major) multiplies for output pixel p, so W.ravel() @ patches is the whole
# output map. Which pixel that is depends only on k and p: conv_index() works it out once.
#
# A tiny example, output pixel (0, 0): the kernel is flipped (a true convolution), so
# W[0, 0] (k = 0) multiplies x[1, 1], the centre W[1, 1] (k = 4) multiplies x[0, 0], and
# W[2, 2] (k = 8) multiplies x[-1, -1], which is outside the image: a 0 of the padding.
#
# The output pixels come in window order: the four pixels of the first 2x2 pooling window
# (rows 0-1, columns 0-1, row-major), then those of the window to its right, and so on. So
# a map is kept as (n/2, n/2, 4), each window's four pixels side by side: the window
# layout. Max pooling is then an argmax over the last axis; as_image() turns a map back
# into an image, as_windows() an image into a map.

def conv_index(n):
    """The gather table of a true 3x3 convolution of a zero-padded n x n map: index[k, p]
    is the flat index in x of the pixel that kernel weight k multiplies for output pixel p
    (p in window order), valid[k, p] 0 where that pixel is padding (index 0 then)."""
    u, v, wi, wj, di, dj = np.meshgrid(*[np.arange(k) for k in (3, 3, n // 2, n // 2, 2, 2)],
                                       indexing="ij")
    r, c = 2 * wi + di + 1 - u, 2 * wj + dj + 1 - v  # output (2wi + di, 2wj + dj), flipped
    valid = (r >= 0) & (r < n) & (c >= 0) & (c < n)
    index = np.where(valid, r * n + c, 0)
    return index.reshape(9, n * n), valid.reshape(9, n * n).astype(float)


# Layer 1 gathers its patches straight from the 8x8 image: x.ravel()[INDEX8] * VALID8.
INDEX8, VALID8 = conv_index(8)
# Layer 2 also needs the way back: the gradient of each patch entry added back to the pixel
# it came from. So its gather is a 0/1 matrix COLS4 (16 pixels x 144 patch entries):
# patches = maps @ COLS4, and the gradient flows back as d_patches @ COLS4.T.
_index4, _valid4 = conv_index(4)
COLS4 = ((_index4[..., None] == np.arange(16)) * _valid4[..., None]).reshape(144, 16).T.copy()
FIRST = np.eye(4, dtype=bool)  # FIRST[k]: the mask of position k in a 2x2 window


# ---------------------------------------------------------------- network

def shapes(hidden=(28, 36)):
    """Each weight's shape, by name: W1a..W2d 3x3, W3 16xh3, W4 h3xh4, W5 h4x1."""
    h3, h4 = hidden
    return dict.fromkeys(NAMES[:6], (3, 3)) | {"W3": (16, h3), "W4": (h3, h4), "W5": (h4, 1)}


def weight_count(hidden=(28, 36)):
    """How many weights the net has: 54 in the kernels, the rest in the dense head."""
    return sum(math.prod(shape) for shape in shapes(hidden).values())


def init_params(seed=0, hidden=(28, 36)):
    """Standard normal weights, as in the article, in the shapes of shapes()."""
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(shape) for name, shape in shapes(hidden).items()}


def sigmoid(z):
    """1 / (1 + exp(-z)) without overflow in exp; numpy's tanh, so that study/lockstep.py,
    which computes it for many runs at once, gets the same bits."""
    return 0.5 + 0.5 * np.tanh(0.5 * z)


def maxpool(maps):
    """2x2 max pooling of maps (C, n, n, 4) in window layout (see forward).

    Returns the pooled maps (C, n, n) and the mask (C, n, n, 4): True at the first
    maximum of each window, the one position its gradient is routed back to.
    """
    mask = FIRST[maps.argmax(axis=3)]
    return maps[mask].reshape(mask.shape[:3]), mask


def as_image(maps):
    """Maps in window layout (C, n, n, 4) as images (C, 2n, 2n)."""
    c, n = maps.shape[:2]
    return maps.reshape(c, n, n, 2, 2).transpose(0, 1, 3, 2, 4).reshape(c, 2 * n, 2 * n)


def as_windows(images):
    """Images (C, 2n, 2n) as maps in window layout (C, n, n, 4): as_image undone."""
    c, n = images.shape[0], images.shape[1] // 2
    return images.reshape(c, n, 2, n, 2).transpose(0, 1, 3, 2, 4).reshape(c, n, n, 4)


def forward(params, x):
    """Forward feed of one 8x8 image (the diagram above): the probability that it is the
    second digit, and the cache backward() needs.

    Convolution maps are kept in window layout: map[c, wi, wj, k] is pixel
    (2*wi + k // 2, 2*wj + k % 2) of channel c, so map[c, wi, wj] is one 2x2 pooling
    window; as_image() turns them back into images.
    """
    p = params
    # Red star: layer 1, two channels, both convolving x. Red circle: activation, pooling.
    patches1 = x.ravel()[INDEX8] * VALID8                     # (9, 64): one column a pixel
    k1 = np.array([p["W1a"], p["W1b"]]).reshape(2, 9)
    z1 = (k1 @ patches1).reshape(2, 4, 4, 4)                  # both channels, one matmul
    a1 = np.arctan(z1)                                        # 1b: arctan
    a1[0] = np.maximum(z1[0], 0)                              # 1a: ReLU
    p1, mask1 = maxpool(a1)                                   # (2, 4, 4)
    # Blue star: layer 2, four channels: 2a, 2b convolve 1a; 2c, 2d convolve 1b.
    patches2 = (p1.reshape(2, 16) @ COLS4).reshape(2, 9, 16)
    k2 = np.array([[p["W2a"], p["W2b"]], [p["W2c"], p["W2d"]]]).reshape(2, 2, 9)
    z2 = (k2 @ patches2).reshape(4, 2, 2, 4)                  # 2a, 2b, 2c, 2d
    a2 = np.arctan(z2)                                        # 2a, 2c: arctan
    a2[1] = np.maximum(z2[1], 0)                              # 2b: ReLU
    a2[3] = np.tanh(z2[3])                                    # 2d: tanh
    p2, mask2 = maxpool(a2)                                   # (4, 2, 2)
    # Green, pink and black stars: the dense head on the flattened [2a, 2b, 2c, 2d].
    f = p2.ravel()                                            # 16
    z3 = f @ p["W3"]
    h3 = np.arctan(z3)
    h4 = np.tanh(h3 @ p["W4"])
    y_hat = float(sigmoid(h4 @ p["W5"])[0])                   # a float
    cache = dict(patches1=patches1, z1=z1, mask1=mask1, patches2=patches2, k2=k2,
                 z2=z2, a2=a2, mask2=mask2, f=f, z3=z3, h3=h3, h4=h4, y_hat=y_hat)
    return y_hat, cache


def backward(params, cache, y):
    """Gradients of the cost 0.5 * (y_hat - y)**2 of one image, keyed like params."""
    p, c = params, cache
    # Black box and black star: the cost through the sigmoid (floats).
    y_hat = c["y_hat"]
    d_z5 = (y_hat - y) * y_hat * (1 - y_hat)
    # Pink star (tanh) and green star (arctan): standard dense back-propagation.
    h4, z3 = c["h4"], c["z3"]
    d_z4 = p["W5"][:, 0] * d_z5 * (1 - h4 * h4)
    d_z3 = (p["W4"] @ d_z4) / (1 + z3 * z3)
    d_p2 = (p["W3"] @ d_z3).reshape(4, 2, 2)                  # at the pooled maps of layer 2
    # Blue star: layer 2, back through the pooling mask, activations and convolution.
    mask2 = c["mask2"]
    d_a2 = mask2 * d_p2[..., None]                            # to each window's maximum
    z2, a2 = c["z2"], c["a2"]
    act2 = 1 / (1 + z2 * z2)                                  # arctan' (2a, 2c)
    act2[1] = z2[1] > 0                                       # ReLU' (2b)
    act2[3] = 1 - a2[3] * a2[3]                               # tanh' (2d)
    d_z2 = (d_a2 * act2).reshape(2, 2, 16)
    d_k2 = (d_z2 @ c["patches2"].transpose(0, 2, 1)).reshape(2, 2, 3, 3)  # W2a, W2b; W2c, W2d
    d_patches2 = c["k2"].transpose(0, 2, 1) @ d_z2            # (2, 9, 16)
    d_p1 = (d_patches2.reshape(2, 144) @ COLS4.T).reshape(2, 4, 4)
    # Red star: layer 1, back through the pooling mask, activations and convolution.
    mask1 = c["mask1"]
    d_a1 = mask1 * d_p1[..., None]
    z1 = c["z1"]
    act1 = 1 / (1 + z1 * z1)                                  # arctan' (1b)
    act1[0] = z1[0] > 0                                       # ReLU' (1a)
    d_z1 = (d_a1 * act1).reshape(2, 64)
    d_k1 = (d_z1 @ c["patches1"].T).reshape(2, 3, 3)          # W1a, W1b
    return {"W1a": d_k1[0], "W1b": d_k1[1],
            "W2a": d_k2[0, 0], "W2b": d_k2[0, 1], "W2c": d_k2[1, 0], "W2d": d_k2[1, 1],
            "W3": c["f"][:, None] * d_z3, "W4": c["h3"][:, None] * d_z4,
            "W5": h4[:, None] * d_z5}


def train(params, images, labels, epochs=500, lr=0.001, momentum=0.9,
          on_epoch=None, on_step=None):
    """Per-sample SGD with momentum, images in their given order, for some epochs.

    Trains the dict params in place (its arrays become views into one weight vector)
    and returns the epoch costs (each the sum of the per-sample costs of that epoch).
    on_epoch(epoch, cost), if given, is called after each epoch; on_step(params, cache,
    y, grads) after each backward pass, before the update (compare.py --alignment uses
    it). Raises TrainingDiverged when the numbers stop being finite.
    """
    # All weights live in one vector, and params holds views into it, so the update
    # v = momentum * v + lr * grad; W = W - v is four numpy calls, not four per weight.
    theta = np.concatenate([params[name].ravel() for name in NAMES])
    ends = np.cumsum([params[name].size for name in NAMES])
    params.update({name: part.reshape(params[name].shape)
                   for name, part in zip(NAMES, np.split(theta, ends[:-1]))})
    velocity = np.zeros_like(theta)
    targets = [float(y) for y in labels]  # Python floats: the cost arithmetic stays cheap
    history = []
    for epoch in range(1, epochs + 1):
        cost = 0.0
        try:
            with np.errstate(over="raise", invalid="raise", divide="raise"):
                for x, y in zip(images, targets):
                    y_hat, cache = forward(params, x)
                    grads = backward(params, cache, y)
                    if on_step:
                        on_step(params, cache, y, grads)
                    velocity *= momentum
                    velocity += lr * np.concatenate([g.ravel() for g in grads.values()])
                    theta -= velocity
                    error = y_hat - y  # the cost 0.5 (y_hat - y)^2, as products, not **:
                    cost += 0.5 * error * error  # study/lockstep.py does it so too
        except FloatingPointError as error:  # numpy's "overflow encountered in matmul"
            raise TrainingDiverged(diverged(epoch, str(error).split(" encountered")[0],
                                            lr)) from None
        if not np.isfinite(cost) or not np.isfinite(theta).all():
            raise TrainingDiverged(diverged(epoch, f"cost {cost}", lr))
        # A weight whose gradient stays 0 (a saturated output) has its velocity decay
        # into subnormal numbers, which are 20x slower to compute with: flush them.
        velocity[np.abs(velocity) < 1e-200] = 0.0
        history.append(float(cost))
        if on_epoch:
            on_epoch(epoch, float(cost))
    return history


def diverged(epoch, cause, lr):
    """What TrainingDiverged says: where, why, and what to try."""
    return f"diverged in epoch {epoch} ({cause}); try a smaller --lr than {lr:g}"


def predict(params, images):
    """The probability that each image is a 1 (round at 0.5 for the digit)."""
    return np.array([forward(params, x)[0] for x in images])


def binomial_tail(k, n, p):
    """P(X >= k) for X ~ Binomial(n, p): the chance of k or more right by luck alone."""
    if p >= 1:
        return 1.0
    log_pmf = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
               + i * math.log(p) + (n - i) * math.log1p(-p) for i in range(k, n + 1)]
    return min(1.0, sum(math.exp(t) for t in log_pmf))


STUCK_LEVEL = 0.01  # a run has learned when its accuracy beats chance at this level


def is_stuck(digits, labels):
    """A run is stuck (it did not learn) when its training accuracy is no better than
    giving every image the majority digit: the one-sided binomial test of its right
    answers against the majority's rate is not significant at 1% (a study judges
    hundreds of runs: a chance run should seldom pass for a trained one). Where even
    every image right could not pass (four samples), it is stuck when it gives every
    image the same digit."""
    n, right = len(labels), int((digits == labels).sum())
    majority = max(np.mean(labels), 1 - np.mean(labels))
    if majority ** n > STUCK_LEVEL:
        return bool(digits.min() == digits.max())
    return binomial_tail(right, n, majority) > STUCK_LEVEL


# ---------------------------------------------------------------- the gradient check

CHECK = dict(images=3, scale=0.1, step=1e-6, tolerance=1e-5)


def check_gradients(params, images, labels, step=CHECK["step"]):
    """Each weight's back-propagated gradient of the cost summed over images, against
    central finite differences of that cost: {name: (relative error, cosine)}, the
    error |g - fd| / (|g| + |fd|) and the cosine of g with fd, over the weight's entries."""
    def cost():
        return sum(0.5 * (forward(params, x)[0] - y) ** 2 for x, y in zip(images, labels))
    grads = {name: np.zeros_like(w) for name, w in params.items()}
    for x, y in zip(images, labels):
        for name, g in backward(params, forward(params, x)[1], float(y)).items():
            grads[name] += g
    found = {}
    for name, w in params.items():
        differences = np.zeros_like(w)
        for i in np.ndindex(w.shape):  # one weight at a time: up by step, down, back
            old = w[i]
            w[i] = old + step
            up = cost()
            w[i] = old - step
            down = cost()
            w[i] = old
            differences[i] = (up - down) / (2 * step)
        g = grads[name]
        norms = np.linalg.norm(g) + np.linalg.norm(differences)
        found[name] = (float(np.linalg.norm(g - differences) / max(norms, 1e-300)),
                       float(g.ravel() @ differences.ravel()
                             / max(np.linalg.norm(g) * np.linalg.norm(differences), 1e-300)))
    return found


def gradient_check_report(seed, hidden, x_train, y_train, source):
    """--check-gradients: the check on the first training images of the seed, a line a
    weight; returns 1 if a gradient differs from its finite differences, else 0."""
    n, scale = CHECK["images"], CHECK["scale"]
    # The seed's weights scaled down: at standard-normal weights on raw pixels most units
    # saturate, their gradients are near 0, and differences of a flat cost say little.
    params = {name: w * scale for name, w in init_params(seed, hidden).items()}
    found = check_gradients(params, x_train[:n], y_train[:n])
    print(f"{NAME}: each gradient against central finite differences (step "
          f"{CHECK['step']:g}), seed {seed}")
    print(f"on {count(min(n, len(x_train)), 'training image')} of {source.split(':')[0]}; "
          f"the seed's weights scaled by {scale}")
    print(f"{'weight':6}  {'shape':>5}  {'error':>7}  cosine")
    for name, (error, cosine) in found.items():
        shape = "x".join(map(str, params[name].shape))
        print(f"{name:6}  {shape:>5}  {error:7.1e}  {cosine:6.3f}")
    differ = [name for name, (error, _) in found.items() if error > CHECK["tolerance"]]
    print("error: |g - fd| / (|g| + |fd|), g back-propagated, fd the finite differences")
    print(f"weights whose error is above {CHECK['tolerance']:g}: " + (", ".join(differ) or "none"))
    return 1 if differ else 0

# ---------------------------------------------------------------- command line

def number(kind, low, high=math.inf, low_ok=False):
    """An argparse type: a kind (int or float) above low (or equal, if low_ok), below high."""
    def convert(text):
        try:
            value = kind(text)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if not (low <= value < high if low_ok else low < value < high):
            least = low if low_ok else low + 1  # whole numbers: from least to high - 1
            bound = (f"at least {low}" if low_ok else f"greater than {low}") if kind is float \
                else f"from {least} to {high - 1}" if high < math.inf else f"at least {least}"
            bound += f" and below {high}" if kind is float and high < math.inf else ""
            raise argparse.ArgumentTypeError(f"{text!r} must be {bound}")
        return value
    return convert


def looks_negative(text):
    """text is a negative number (argparse would take -1e-3 for an option)."""
    try:
        return text.startswith("-") and float(text) < 0
    except ValueError:
        return False


def count(n, word, plural=None):
    """'1 epoch', '2 epochs'; plural where an added s will not do."""
    return f"{n} {word if n == 1 else plural or word + 's'}"


class UsageError(Exception):
    """A bad command line: reported in one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message):
        """A bad command line, in one line: argparse's list of choices made shorter, and
        the option meant named where an unknown one is close to it."""
        head, found, rest = message.partition(": invalid choice: ")
        if found and " (choose from " in rest:
            value, choices = rest[:-1].split(" (choose from ", 1)
            *most, last = [choice.strip("'") for choice in choices.split(", ")]
            message = f"{head}: {value} is not {', '.join(most)} or {last}"
        if message.startswith("unrecognized arguments: "):
            import difflib
            word = message.split()[2].split("=")[0]
            close = difflib.get_close_matches(word, [o for o in self._option_string_actions
                                                     if o.startswith("--")], n=1, cutoff=0.75)
            message += f"; did you mean {close[0]}?" if close else ""
        raise UsageError(message)

    def parse_known_args(self, args=None, namespace=None):
        """As argparse's, but a negative number such as -1e-3 after an option is its value
        (argparse takes one with an exponent for an option of its own)."""
        args = list(sys.argv[1:] if args is None else args)
        for i in range(len(args) - 1, 0, -1):
            if args[i - 1] in self._option_string_actions and looks_negative(args[i]):
                args[i - 1:i + 1] = [f"{args[i - 1]}={args[i]}"]
        return super().parse_known_args(args, namespace)

    def print_help(self, file=None):  # argparse's own ignores a failed write
        (file or sys.stdout).write(self.format_help())


def parse_args(argv):
    """The options; argv None means sys.argv, whose unknown entries are ignored only
    when a notebook kernel owns it (its own flags, such as -f kernel-1234.json)."""
    # No abbreviations: a notebook kernel's own flags must not match ours.
    parser = Parser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--epochs", type=number(int, 0, MAX_EPOCHS + 1),
                        help=f"default 500, at most {MAX_EPOCHS:,}")
    parser.add_argument("--lr", type=number(float, 0),
                        help="learning rate (default 0.001; 0.01 on four samples)")
    parser.add_argument("--momentum", type=number(float, 0, 1, low_ok=True), help="default 0.9")
    parser.add_argument("--seed", type=number(int, 0, low_ok=True), default=DEFAULTS["seed"],
                        help="fixes the shuffle and the weights (default 0)")
    parser.add_argument("--hidden", type=number(int, 0), nargs=2, metavar=("H3", "H4"),
                        default=DEFAULTS["hidden"],
                        help=f"W3 is 16xH3, W4 H3xH4, W5 H4x1 (default 28 36; "
                        f"at most {MAX_WEIGHTS:,} weights in all)")
    parser.add_argument("--test-size", type=number(int, 0),
                        help="test images, the rest train (default 10)")
    parser.add_argument("--digits", type=number(int, 0, 10, low_ok=True), nargs=2,
                        metavar=("A", "B"), default=(0, 1),
                        help="the two digits told apart; B is label 1 (default 0 1)")
    parser.add_argument("--four-samples", action="store_true", help="use the four embedded samples")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch progress")
    parser.add_argument("--check-gradients", action="store_true",
                        help="check every gradient against finite differences, and stop")
    if argv is None:
        args, unknown = parser.parse_known_args(sys.argv[1:])
        if unknown and "kernel" not in os.path.basename(sys.argv[0]):
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    else:
        args = parser.parse_args(argv)
    if args.digits[0] == args.digits[1]:
        raise UsageError(f"--digits needs two different digits, got {args.digits[0]} twice")
    if args.four_samples and (args.test_size is not None or tuple(args.digits) != (0, 1)):
        raise UsageError("--four-samples takes no --test-size or --digits (four images, "
                         "train = test)")
    h3, h4 = args.hidden
    weights = weight_count(args.hidden)
    if weights > MAX_WEIGHTS:  # refused before anything is allocated
        raise UsageError(f"--hidden {h3} {h4}: {weights:,} weights, more than "
                         f"{MAX_WEIGHTS:,}")
    return args


def progress(epochs, quiet):
    """on_epoch callback: the epoch and its cost, in place on a terminal; else at every
    tenth of the epochs, and at least every 30 seconds."""
    tty = sys.stdout.isatty()
    every = max(1, epochs // 10)
    width, last = 0, time.perf_counter()

    def report(epoch, cost):
        nonlocal width, last
        line = f"epoch {epoch:4d}/{epochs}  cost {cost:.6f}"
        if quiet:
            return
        if tty:  # padded to the last line's width, so that none of it stays behind
            print("\r" + line.ljust(width), end="\n" if epoch == epochs else "", flush=True)
            width = len(line)
        elif epoch % every == 0 or epoch in (1, epochs) or time.perf_counter() - last > 30:
            print(line, flush=True)
            last = time.perf_counter()
    return report


def main(argv=None):
    """The command line; returns the exit status. Ctrl-C and a closed pipe end quietly."""
    try:
        try:
            status = run(argv)
        except SystemExit as done:  # --help has printed its text
            status = done.code
        sys.stdout.flush()  # a failed write shows here, not after main has returned
        return status
    except KeyboardInterrupt:
        if sys.stdout.isatty():
            print()  # end the progress line
        print(f"{SCRIPT}: interrupted", file=sys.stderr)
        return 130
    except OSError as error:  # stdout closed (| head) or on a full device
        return output_failed(SCRIPT, error)


def output_failed(script, error):
    """The exit status when writing stdout failed: 141 without a word when the reader
    went away (| head), else one line and 1. Nothing more is written to stdout."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (a notebook): nothing to silence
        pass
    if isinstance(error, BrokenPipeError):
        return 141
    print(f"{script}: error: cannot write the output: {error.strerror or error}", file=sys.stderr)
    return 1


def run(argv):
    """Parse, load, train, test and print; returns the exit status."""
    try:
        args = parse_args(argv)
        test_size = DEFAULTS["test_size"] if args.test_size is None else args.test_size
        x_train, y_train, x_test, y_test, source = load_data(args.seed, test_size,
                                                             args.four_samples, args.digits)
    except (UsageError, ValueError) as error:
        print(f"{SCRIPT}: error: {error}", file=sys.stderr)
        return 2
    four = x_train is FOUR_X
    if four and args.test_size is not None:
        print(f"{SCRIPT}: error: --test-size needs scikit-learn (the four embedded samples "
              "train and test on all four)", file=sys.stderr)
        return 2
    if four and not args.four_samples:
        print("scikit-learn is not installed: training on the four embedded samples")
    if args.check_gradients:
        return gradient_check_report(args.seed, args.hidden, x_train, y_train, source)
    settings = FOUR_SAMPLE_DEFAULTS if four else DEFAULTS
    epochs = args.epochs or settings["epochs"]
    lr = args.lr or settings["lr"]
    momentum = settings["momentum"] if args.momentum is None else args.momentum
    h3, h4 = args.hidden
    print(f"{NAME}: {source}; W3 16x{h3}, W4 {h3}x{h4}, W5 {h4}x1")
    print(f"{count(epochs, 'epoch')}, lr {lr}, momentum {momentum}, seed {args.seed}")
    params = init_params(args.seed, args.hidden)
    start = time.perf_counter()
    try:
        history = train(params, x_train, y_train, epochs, lr, momentum,
                        progress(epochs, args.quiet))
    except TrainingDiverged as error:
        print(f"{SCRIPT}: error: {error}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - start
    probability = predict(params, x_test)
    predicted = (probability >= 0.5).astype(int)
    digit = (0, 1) if four else args.digits  # label 0 and label 1 are these digits
    print(f"image  digit  {f'P({digit[1]})':>6}  predicted")
    for i, (truth, prob, guess) in enumerate(zip(y_test, probability, predicted)):
        print(f"{i:5d}  {digit[truth]:5d}  {prob:6.4f}  {digit[guess]:9d}"
              + ("" if truth == guess else "  wrong"))
    right = int((predicted == y_test).sum())
    print(f"test accuracy {right}/{len(y_test)} = {right / len(y_test):.0%}; "
          f"final cost {history[-1]:.6f}")
    guessed = (predict(params, x_train) >= 0.5).astype(int)
    if is_stuck(guessed, y_train):
        majority = max(np.mean(y_train), 1 - np.mean(y_train))
        print(f"stuck: training accuracy {np.mean(guessed == y_train):.3f} is no better than "
              f"answering the majority digit ({majority:.3f});\n"
              "  its outputs saturated and it stopped learning: try another --seed or a smaller --lr")
    steps = epochs * len(x_train)
    print(f"wall time {seconds:.2f} s for {count(steps, 'training step')}: "
          f"{seconds / steps * 1e6:.1f} us per step")
    return 0


# ---------------------------------------------------------------- the four samples
# Online interpreters have no scikit-learn: load_data() then trains on these.

# ---- four embedded samples (digits 0, 1, 1, 0), copied from digits_4samples.py ----
FOUR_X = np.array([
    [[0, 0, 5, 13, 9, 1, 0, 0],  # load_digits() image 0, digit 0
     [0, 0, 13, 15, 10, 15, 5, 0],
     [0, 3, 15, 2, 0, 11, 8, 0],
     [0, 4, 12, 0, 0, 8, 8, 0],
     [0, 5, 8, 0, 0, 9, 8, 0],
     [0, 4, 11, 0, 1, 12, 7, 0],
     [0, 2, 14, 5, 10, 12, 0, 0],
     [0, 0, 6, 13, 10, 0, 0, 0]],
    [[0, 0, 0, 12, 13, 5, 0, 0],  # load_digits() image 1, digit 1
     [0, 0, 0, 11, 16, 9, 0, 0],
     [0, 0, 3, 15, 16, 6, 0, 0],
     [0, 7, 15, 16, 16, 2, 0, 0],
     [0, 0, 1, 16, 16, 3, 0, 0],
     [0, 0, 1, 16, 16, 6, 0, 0],
     [0, 0, 1, 16, 16, 6, 0, 0],
     [0, 0, 0, 11, 16, 10, 0, 0]],
    [[0, 0, 0, 0, 14, 13, 1, 0],  # load_digits() image 11, digit 1
     [0, 0, 0, 5, 16, 16, 2, 0],
     [0, 0, 0, 14, 16, 12, 0, 0],
     [0, 1, 10, 16, 16, 12, 0, 0],
     [0, 3, 12, 14, 16, 9, 0, 0],
     [0, 0, 0, 5, 16, 15, 0, 0],
     [0, 0, 0, 4, 16, 14, 0, 0],
     [0, 0, 0, 1, 13, 16, 1, 0]],
    [[0, 0, 1, 9, 15, 11, 0, 0],  # load_digits() image 10, digit 0
     [0, 0, 11, 16, 8, 14, 6, 0],
     [0, 2, 16, 10, 0, 9, 9, 0],
     [0, 1, 16, 4, 0, 8, 8, 0],
     [0, 4, 16, 4, 0, 8, 8, 0],
     [0, 1, 16, 5, 1, 11, 3, 0],
     [0, 0, 12, 12, 10, 10, 0, 0],
     [0, 0, 1, 10, 13, 3, 0, 0]],
], dtype=float)
FOUR_Y = np.array([0, 1, 1, 0])
# ---- end of the embedded samples ----


if __name__ == "__main__":
    status = main()
    if status:
        sys.exit(status)
