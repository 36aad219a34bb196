"""study/narrative.py: one phrase a comparison, one sign convention, and the budget's
and the interventions' answers from their numbers."""
import pytest

from study import narrative


def row(mean, low, high, verdict, equivalence, prefix=""):
    return {prefix + "mean_difference": mean, prefix + "interval": [low, high],
            prefix + "verdict": verdict, prefix + "equivalence": equivalence}


@pytest.mark.parametrize("verdict, equivalence, said", [
    ("worse", "as good", "worse, but by less than the 2-point margin"),
    ("worse", "not shown as good", "worse"),
    ("better", "too few seeds", "better"),
    ("no difference shown", "as good", "as good (within the 2-point margin)"),
    ("no difference shown", "not shown as good",
     "not told apart, nor shown within the 2-point margin"),
    ("no difference shown", "too few seeds", "not told apart (too few seeds for 'as good')"),
    ("too few seeds", "too few seeds", "too few seeds for a word"),
    ("no variation", "no variation", "alike in every seed")])
def test_each_comparison_is_one_phrase_a_reader_parses_once(verdict, equivalence, said):
    assert narrative.phrase(row(-0.013, -0.019, -0.007, verdict, equivalence)) == said


def test_every_difference_is_a_minus_b_signed_with_its_interval_low_to_high():
    assert narrative.points(row(-0.0163, -0.028, -0.0046, "worse", "")) == (
        "-1.6 points (95% -2.8 to -0.46)")
    assert narrative.points(row(0.021, 0.0085, 0.033, "better", "")) == (
        "+2.1 points (95% 0.85 to 3.3)")
    assert narrative.said(row(-0.121, -0.16, -0.081, "worse", "not shown as good")) == (
        "**worse**: -12.1 points (95% -16 to -8.1)")


@pytest.mark.parametrize("at, last, change, answer", [
    (("worse", -0.04), ("no difference shown", -0.005), "better", "slower"),
    (("worse", -0.04), ("worse", -0.035), "no difference shown", "lower"),
    (("worse", -0.04), ("worse", -0.045), "worse", "lower"),
    (("worse", -0.04), ("worse", -0.015), "better", "partly slower"),
    # not told apart at the end, yet no closing shown: 30 seeds' width, not a closed gap
    (("worse", -0.04), ("no difference shown", -0.03), "no difference shown", "not settled"),
    (("no difference shown", -0.004), ("no difference shown", 0.0), "no difference shown",
     "neither")])
def test_slower_or_lower_is_read_from_the_paired_change_of_the_gap(at, last, change, answer):
    facts = dict(at_500=dict(verdict=at[0], mean_difference=at[1]),
                 at_last=dict(verdict=last[0], mean_difference=last[1]),
                 gap_change=dict(verdict=change))
    assert narrative.slower_or_lower(facts) == answer


def interventions(noise_words, peaks):
    """The interventions' findings with the matched noise's word against the broken net at
    each rate (rate: word), and each net's peak rate."""
    return {narrative.MATCHED: {lr: {"broken": {"verdict": word}}
                                for lr, word in noise_words.items()},
            "peak": peaks}


@pytest.mark.parametrize("words, says", [
    ({"0.0001": "worse", "0.001": "better"},
     "the broken net learns better than such noise at 0.0001 and worse at 0.001"),
    ({"0.0001": "better", "0.001": "no difference shown"}, "hurts less than the broken"),
    ({"0.0001": "worse", "0.001": "no difference shown"}, "hurts more than the broken"),
    ({"0.0001": "no difference shown"}, "is enough to explain"),
    ({"0.0001": "too few seeds", "0.001": "worse"}, "Too few seeds")])
def test_the_noise_is_read_both_ways_from_its_words(words, says):
    assert says in narrative.noise_conclusion(interventions(words, {}))


@pytest.mark.parametrize("peaks, words, says", [
    ({"original": "0.001", "broken green,red": "0.0002", "scaled true": "0.001"},
     {"better": [0.0001, 0.0002], "worse": [0.0005, 0.001]},
     "0.0002, 5 times lower, and is better than the original at 0.0001, 0.0002, worse at "
     "0.0005, 0.001: it behaves not as a slower learner but as if its steps were larger"),
    ({"original": "0.001", "broken green,red": "0.003", "scaled true": "0.003"},
     {"worse": [0.0001]}, "above the original: as a slower learner would"),
    # better above where it is worse: no word about its steps
    ({"original": "0.001", "broken green,red": "0.0002", "scaled true": "0.001"},
     {"worse": [0.0001], "better": [0.001]}, "the broken net peaks at 0.0002.")])
def test_a_faster_or_slower_learner_is_read_from_the_peaks_and_the_curve(peaks, words, says):
    rows = [{"pooled": True, "nets": [narrative.BROKEN, narrative.ORIGINAL], "lr": lr,
             "verdict": word}
            for word, rates in words.items() for lr in rates]
    found = {"curve": {"comparisons": rows}}
    assert says in narrative.step_conclusion(found, interventions({}, peaks))


def setting(momentum, init, **words):
    """A settings_study row: each conclusion's word (the conclusion's name with spaces as
    underscores)."""
    return dict(momentum=momentum, init=init, comparisons=[
        dict(row(-0.02, -0.03, -0.01, word, "too few seeds"), conclusion=name.replace("_", " "),
             seeds=120 if (momentum, init) == (0.9, "normal") else 30)
        for name, word in words.items()])


def test_each_conclusion_is_kept_reversed_or_left_without_a_word_in_each_other_setting():
    rows = [setting(0.9, "normal", the_tuned_answer="worse", better_at_the_smallest_rate="better"),
            setting(0.9, "lecun", the_tuned_answer="worse",
                    better_at_the_smallest_rate="no difference shown"),
            setting(0.0, "normal", the_tuned_answer="no difference shown",
                    better_at_the_smallest_rate="worse")]
    assert narrative.fates(rows) == {"the tuned answer": ["kept", "no word"],
                                     "better at the smallest rate": ["no word", "reversed"]}
    text = narrative.settings_answer({"settings_study": rows})
    assert "the tuned answer: 1 kept, 1 no word; better at the smallest rate: 1 no word, " \
           "1 reversed." in text
    assert "its tuned answer over 120 seeds; each other setting's over 30" in text
    assert "Without momentum the tuned broken net is, with normal weights, **not told apart" in text
    assert ": so the shortfall is not shown where momentum is gone" in text


def test_the_readme_says_what_the_other_settings_did_to_the_tuned_answer():
    rows = [setting(0.9, "normal", the_tuned_answer="worse"),
            setting(0.9, "lecun", the_tuned_answer="worse"),
            setting(0.0, "normal", the_tuned_answer="no difference shown"),
            setting(0.0, "lecun", the_tuned_answer="better")]
    text = narrative.findings_text({"findings": {}, "made": {}, "settings_study": rows})
    assert "the tuned answer, **worse** here, is kept in 1, no word in 1, reversed in 1 of " \
           "3 others (REPORT.md" in text


@pytest.mark.parametrize("words, listed, said", [
    ([], "a guess the settings without momentum bear on", ""),
    (["worse", "worse"], "", "is not needed for the shortfall, though it may add to it"),
    (["worse", "no difference shown"], "not shown in every setting", "")])
def test_the_momentum_guess_is_listed_as_open_until_the_settings_without_momentum_answer_it(
        words, listed, said):
    rows = [setting(0.9, "normal", the_tuned_answer="worse")] + [
        setting(0.0, init, the_tuned_answer=word) for init, word in zip(("normal", "lecun"), words)]
    found = {"settings_study": rows}
    assert (listed in narrative.momentum_guess(found)[0]) and (said in narrative.momentum_guess(
        found)[1])
    assert bool(narrative.momentum_guess(found)[0]) != bool(narrative.momentum_guess(found)[1])


def budget_block(first, cpu, at, last, change):
    return dict(seeds=[first, first + 30], cpu=cpu,
                at_500=row(at, at - 0.01, at + 0.01, "worse", "too few seeds") | {"seeds": 30},
                at_last=row(last, last - 0.01, last + 0.01,
                            "worse" if last < -0.012 else "no difference shown", "too few seeds"),
                gap_change=row(change, change - 0.01, change + 0.01,
                               "better" if change > 0.012 else "no difference shown",
                               "too few seeds"))


@pytest.mark.parametrize("second, agree", [
    ((-0.03, -0.02, 0.005), "the word comes back in each of the 2 blocks"),
    ((-0.03, -0.005, 0.025), "the blocks do not all give the pooled word")])
def test_the_budgets_word_is_said_with_each_blocks_own(second, agree):
    blocks = [budget_block(150, "as is", -0.025, -0.017, 0.007),
              budget_block(210, "Sandybridge + SSE", *second)]
    facts = dict(blocks[0], article_epoch=500, last=2000, blocks=blocks)
    assert narrative.slower_or_lower(facts) == "lower"
    text = narrative.replication(facts)
    assert text.startswith(". Block by block: seeds 150 to 179 (as is), **lower**: -2.5 points")
    assert "seeds 210 to 239 (Sandybridge + SSE), **" in text and agree in text
    assert narrative.replication(dict(facts, blocks=blocks[:1])) == (
        " (one block of 30 seeds, not yet drawn again).")
