"""study/records.py: a run's record, its JSON form and checks; a block of seeds."""
import json
import re

import pytest

from study import records
from study.records import Seeds


def test_checkpoints_are_1_10_every_25th_the_middle_and_the_last():
    assert records.checkpoint_epochs(500)[:4] == [1, 10, 25, 50]
    assert records.checkpoint_epochs(500)[-2:] == [475, 500]
    assert len(records.checkpoint_epochs(500)) == 22
    assert records.checkpoint_epochs(60) == [1, 10, 25, 30, 50, 60]  # 30: the middle
    assert records.checkpoint_epochs(3) == [1, 3] and records.checkpoint_epochs(1) == [1]


def test_seeds_are_a_first_and_a_stop():
    block = Seeds(30, 60)
    assert block.count == 30 and list(block)[:2] == [30, 31] and list(block)[-1] == 59
    assert 30 in block and 59 in block and 60 not in block and 29 not in block
    assert str(block) == "30:60" and block.span() == "30 to 59" and Seeds(4, 5).span() == "4"
    assert Seeds.of(dict(first_seed=30, seeds=30)) == block
    assert sorted([Seeds(60, 90), Seeds(0, 30)]) == [Seeds(0, 30), Seeds(60, 90)]


def settings(**more):
    return dict(dict(first_seed=0, seeds=2, epochs=2, experiments=["Result 3"], lrs=[0.001],
                     digits=[(3, 8)], nets=["original", "frozen"],
                     train_sizes={"3/8": 286}), **more)


def saved_run(**changes):
    return dict(dict(experiment="Result 3", digits=[3, 8], net="frozen", lr=0.001, seed=1,
                     stuck=False,
                     history=[2.0, 1.0], train_accuracy=0.9, test_accuracy=70 / 72,
                     test_right=70, test_size=72, checkpoints=CHECKPOINTS), **changes)


CHECKPOINTS = [dict(epoch=1, cost=2.0, train_accuracy=0.5, test_accuracy=0.5),
               dict(epoch=2, cost=1.0, train_accuracy=0.9, test_accuracy=70 / 72)]


def test_a_saved_run_reads_back_as_the_run_training_made():
    planned = records.planned("Result 3", (3, 8), "frozen", 1, 286, 0.001)
    made = records.trained(planned, [2.0, 1.0], False, 0.9, 70, 72, checkpoints=CHECKPOINTS)
    checker = records.Checker("a.json", {}, "--pool")
    read = records.run_from_json(checker, 0, saved_run(), settings())
    assert read == made and read["frozen"] and read["hidden"] == (28, 36)
    assert json.loads(json.dumps(records.run_json(made))) == saved_run()
    assert records.key(read) == ("Result 3", (3, 8), "frozen", 0.001, 1)


@pytest.mark.parametrize("change, message", [
    (dict(test_accuracy=0.5), "runs[0].test_accuracy is not right / size"),
    (dict(seed=2), "runs[0].seed is not one of the study's seeds"),
    (dict(net="broken green,red"), "runs[0].net is not a net of the study"),
    (dict(history=[1.0]), "runs[0].history is not 2 epoch costs"),
    (dict(digits=[3, 3]), "runs[0].digits is not a digit pair of the study"),
    (dict(stuck=1), "runs[0].stuck is not true or false"),
    (dict(lr=0.002), "runs[0].lr is not 0.001, its rates"),
    (dict(checkpoints=CHECKPOINTS[:1]), "runs[0].checkpoints is not its 2 checkpoints"),
    (dict(checkpoints=[CHECKPOINTS[0], dict(CHECKPOINTS[1], test_accuracy=2)]),
     "runs[0].checkpoints is not its 2 checkpoints"),
    (dict(checkpoints=[CHECKPOINTS[0], dict(CHECKPOINTS[1], W1_cosine=0.5)]),
     "runs[0].checkpoints is not its 2")])
def test_a_damaged_run_is_refused_naming_its_field(change, message):
    checker = records.Checker("a.json", {}, "--pool")
    with pytest.raises(records.Refused, match="^" + re.escape(f"--pool a.json: {message}")):
        records.run_from_json(checker, 0, saved_run(**change), settings())
