"""The nets and experiments the studies are made of, each defined once.

compare.py trains them, verdicts.py judges them, report.py shows them.
"""
# The article's experiments: their dense heads, W3 16xH3, W4 H3xH4, W5 H4x1.
EXPERIMENTS = {"Result 1": (18, 20), "Result 2": (48, 56), "Result 3": (28, 36)}
BROKEN, FROZEN = "broken green,red", "frozen"  # the article's broken net; the control
NETS = {"original": (), BROKEN: ("green", "red"),  # label: its broken lines
        "broken green": ("green",), "broken red": ("red",), FROZEN: ()}
COMPARED = ((BROKEN, "original"), (FROZEN, "original"), (BROKEN, FROZEN),
            ("broken green", "original"), ("broken red", "original"))
PAIRS = ((0, 1), (3, 8), (4, 9), (1, 7))  # the extended study's digit pairs
