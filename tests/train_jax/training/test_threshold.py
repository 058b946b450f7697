"""The operating point: each rule picks the threshold it names on constructed scores (ties
included), a target out of reach is a warning with the figure it reaches, the intervals
are Wilson's, the default is sensitivity=0.90 and anything else than the three spellings
is refused in one line."""

from __future__ import annotations

import numpy as np
import pytest

from train_jax.errors import UserError
from train_jax.training.config import TrainConfig
from train_jax.training.threshold import (
    YOUDEN_RULE, Achieved, OperatingPoint, choose_threshold, describe, threshold_record, wilson_interval,
    with_achieved,
)

# Ten cataract photos and ten normal ones; 0.5 is scored by a cataract and a normal photo (a tie).
CATARACT_SCORES = [0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.55, 0.5, 0.3, 0.2]
NORMAL_SCORES = [0.75, 0.5, 0.45, 0.4, 0.35, 0.25, 0.15, 0.1, 0.05, 0.01]
POSITIVE = np.array([True] * 10 + [False] * 10)
SCORES = np.array(CATARACT_SCORES + NORMAL_SCORES)


def chosen(text: str, positive=POSITIVE, scores=SCORES) -> float:
    return choose_threshold(positive, scores, OperatingPoint.parse(text))


def test_sensitivity_takes_the_highest_threshold_that_reaches_it():
    # 0.55 finds 7 of 10; 0.5 finds 8 (and calls the tied normal photo cataract too).
    assert chosen("sensitivity=0.70") == 0.55
    assert chosen("sensitivity=0.80") == 0.5
    assert Achieved.at(POSITIVE, SCORES, 0.5) == Achieved(true_positive=8, cataract=10, true_negative=8, normal=10)
    # 0.9 is 9 of 10 exactly: reached at 0.3, and not at 0.45 above it (still 8 of 10).
    assert chosen("sensitivity=0.90") == 0.3
    assert chosen("sensitivity=1") == 0.2


def test_specificity_takes_the_lowest_threshold_that_reaches_it():
    # At 0.5 the tied normal photo is called cataract with the 0.75 one: 8 of 10 are called normal.
    assert chosen("specificity=0.80") == 0.5
    assert chosen("specificity=0.90") == 0.55  # only the 0.75 scores above it
    assert chosen("specificity=1.0") == 0.8


def test_youden_is_the_rule_it_was():
    positive = np.array([1, 1, 1, 0, 0, 0], bool)
    scores = np.array([0.95, 0.7, 0.62, 0.6, 0.3, 0.1])
    assert chosen("youden", positive, scores) == 0.62
    assert threshold_record(OperatingPoint.parse("youden"), positive, scores, 1)["rule"] == YOUDEN_RULE


def test_a_target_out_of_reach_takes_the_nearest_threshold_and_says_so_without_rounding():
    # The highest score is a normal photo's: at every threshold 1 of 10 normal photos is called cataract.
    positive = np.array([False] + [True] * 5 + [False] * 9)
    scores = np.array([0.99, 0.9, 0.8, 0.7, 0.6, 0.5] + [0.1 + 0.01 * i for i in range(9)])
    record = threshold_record(OperatingPoint.parse("specificity=0.95"), positive, scores, best_epoch=4)
    assert record["decision_threshold"] == 0.5  # specificity 0.9 at every threshold down to 0.5: the most sensitive
    assert record["warning"] == ("the validation photos do not reach specificity 0.95: the best threshold reaches "
                                 "0.900 (9 of 10 normal photos)")
    # 98 of 99 is 0.98989...: never written as a 0.990 that would look like the target reached.
    assert Achieved(1, 1, 98, 99).warning(OperatingPoint.parse("specificity=0.99")).endswith(
        "reaches 0.9899 (98 of 99 normal photos)")
    # No cataract photo on validation: no threshold reaches any sensitivity.
    normal_only = threshold_record(OperatingPoint.parse("sensitivity=0.90"), np.zeros(3, bool), np.array([0.2, 0.4, 0.6]), 1)
    assert normal_only["warning"].startswith("the validation photos do not reach sensitivity 0.90: the best threshold "
                                             "reaches 0.000 (0 of 0 cataract photos)")
    assert threshold_record(OperatingPoint.parse("sensitivity=0.90"), POSITIVE, SCORES, 1)["warning"] is None


def test_the_record_keeps_the_old_keys_and_gains_the_operating_point_and_what_it_achieved():
    record = threshold_record(OperatingPoint.parse("Sensitivity = 0.9"), POSITIVE, SCORES, best_epoch=3)
    assert record["decision_threshold"] == 0.3 and record["best_epoch"] == 3 and record["validation_photos"] == 20
    assert record["operating_point"] == "sensitivity=0.90" and record["warning"] is None
    assert record["rule"].startswith("sensitivity=0.90: the highest threshold on the validation split whose "
                                     "sensitivity is at least 0.90")
    achieved = record["achieved"]
    assert achieved["sensitivity"] == 0.9 and achieved["specificity"] == 0.5
    assert achieved["sensitivity_95"] == pytest.approx([0.5958, 0.9821], abs=1e-4)  # Wilson, 9 of 10
    assert achieved["specificity_95"] == pytest.approx([0.2366, 0.7634], abs=1e-4)
    assert achieved["interval"] == "Wilson score interval, 95%"
    assert describe(record) == ("threshold 0.300 (sensitivity=0.90): validation sensitivity 0.900 [0.596, 0.982] "
                                "(9 of 10), specificity 0.500 [0.237, 0.763] (5 of 10) (95% Wilson intervals)")


def test_wilson_intervals_stay_informative_at_the_edges():
    low, high = wilson_interval(9, 9)
    assert low == pytest.approx(0.7009, abs=1e-4) and high == 1.0
    assert wilson_interval(0, 9)[0] == 0.0 and wilson_interval(0, 0) == (0.0, 1.0)


def test_a_file_from_before_operating_points_is_read_as_youden_with_its_figures():
    old = {"decision_threshold": 0.5, "rule": YOUDEN_RULE, "best_epoch": 2, "validation_photos": 20}
    record = with_achieved(old, POSITIVE, SCORES)
    assert record["operating_point"] == "youden" and record["warning"] is None
    assert Achieved.from_record(record["achieved"]) == Achieved.at(POSITIVE, SCORES, 0.5)
    assert with_achieved(record, POSITIVE, SCORES) is record


def test_the_default_is_sensitivity_090_and_the_setting_is_normalised_or_refused(tmp_path):
    assert TrainConfig(data="DATA", out="RUN").operating_point == "sensitivity=0.90"
    assert TrainConfig(data="DATA", out="RUN", operating_point="SPECIFICITY=0.95").operating_point == "specificity=0.95"
    assert TrainConfig(data="DATA", out="RUN", operating_point="sensitivity=0.925").operating_point == "sensitivity=0.925"
    assert TrainConfig(data="DATA", out="RUN", operating_point=" youden ").operating_point == "youden"
    # A run recorded before the setting chose Youden's J, and resumes so.
    assert TrainConfig.from_json({"data": "DATA", "out": "RUN"}).operating_point == "youden"
    for bad in ("sensitivity=1.5", "sensitivity=0", "specificity=", "sensitivity=nan", "recall=0.9", "youden=1"):
        with pytest.raises(UserError, match=f"^--operating-point must be youden, sensitivity=S or specificity=S "
                                            f"with 0 < S <= 1, got '{bad}'$"):
            TrainConfig(data="DATA", out="RUN", operating_point=bad)
