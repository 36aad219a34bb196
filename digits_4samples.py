"""The four embedded samples: the single source of the block the net scripts carry.

Online interpreters have no scikit-learn, so original_net.py and broken_net.py carry
four 8x8 images from sklearn's load_digits() (digits 0, 1, 1, 0: images 0, 1, 11, 10),
as the article did. The block between the two marker lines below is copied, byte for
byte, into both scripts.

    python digits_4samples.py                 print the block (to paste into a script)
    python digits_4samples.py --check         verify the scripts' copies (exit 1 if not)
    python digits_4samples.py --from-sklearn  print the block rebuilt from load_digits()
"""
import sys
from pathlib import Path

import numpy as np

from study.cli import Failure, Parser, run_main

SAMPLE_INDICES = (0, 1, 11, 10)  # load_digits() images whose targets are 0, 1, 1, 0
BEGIN = "# ---- four embedded samples (digits 0, 1, 1, 0), copied from digits_4samples.py ----"
END = "# ---- end of the embedded samples ----"
SCRIPTS = ("original_net.py", "broken_net.py")

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


def render(images, labels, indices=SAMPLE_INDICES):
    """The block's text for these 8x8 images and labels, marker lines included."""
    lines = [BEGIN, "FOUR_X = np.array(["]
    for image, label, index in zip(images, labels, indices):
        rows = [f"[{', '.join(str(int(v)) for v in row)}]" for row in image]
        lines.append(f"    [{rows[0]},  # load_digits() image {index}, digit {int(label)}")
        lines += [f"     {row}," for row in rows[1:-1]]
        lines.append(f"     {rows[-1]}],")
    lines += ["], dtype=float)",
              f"FOUR_Y = np.array([{', '.join(str(int(v)) for v in labels)}])", END]
    return "\n".join(lines) + "\n"


def extract(text):
    """The block found in a file's text (marker lines included), or None."""
    lines = text.splitlines(keepends=True)
    marks = [line.rstrip("\n") for line in lines]
    if BEGIN not in marks or END not in marks:
        return None
    start, stop = marks.index(BEGIN), marks.index(END)
    return "".join(lines[start:stop + 1]) if start < stop else None


def from_sklearn():
    """The block rebuilt from load_digits() (needs scikit-learn)."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    index = list(SAMPLE_INDICES)
    return render(digits.images[index], digits.target[index])


BLOCK = render(FOUR_X, FOUR_Y)


def check(folder):
    """Names of the scripts in folder whose block differs from BLOCK."""
    return [name for name in SCRIPTS
            if extract((Path(folder) / name).read_text()) != BLOCK]


def main(argv=None):
    """The command line; returns the exit status (study/cli.py's rule)."""
    return run_main("digits_4samples.py", run, argv)


def run(argv):
    parser = Parser(allow_abbrev=False,
                    description="Print the block of four embedded samples that original_net.py "
                                "and broken_net.py carry, or check their copies.")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="verify that both scripts carry this block (exit 1 if not)")
    mode.add_argument("--from-sklearn", action="store_true",
                      help="print the block rebuilt from load_digits() (needs scikit-learn)")
    args = parser.parse_args(argv)
    if args.check:
        stale = check(Path(__file__).resolve().parent)
        for name in stale:
            print(f"{name}: embedded samples differ from digits_4samples.py; "
                  f"paste the output of 'python digits_4samples.py' over them", file=sys.stderr)
        if not stale:
            print(f"ok: {', '.join(SCRIPTS)} carry the same four samples")
        return 1 if stale else 0
    if args.from_sklearn:
        try:
            print(from_sklearn(), end="")
        except ImportError:
            raise Failure("--from-sklearn needs scikit-learn (pip install scikit-learn)") from None
        return 0
    print(BLOCK, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
