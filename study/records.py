"""A run's record: the key that names it in a study."""


def key(run):
    """A run's place in its study: experiment, digit pair, net and seed."""
    return run["experiment"], tuple(run["digits"]), run["net"], run["seed"]
