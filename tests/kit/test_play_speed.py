"""The play's speed: the measured over the estimated unit time of the steps so far, each weighing its unit's
measured seconds."""
from types import SimpleNamespace

import pytest

from kit.play.pilot import MIN_SPEED, Play, weighted_median


def test_weighted_median():
    assert weighted_median([3.0, 1.0, 2.0], [1, 1, 1]) == 2.0
    assert weighted_median([0.25, 0.77], [1.12, 2.31]) == 0.77
    assert weighted_median([1.0, 5.0, 6.0], [10, 1, 1]) == 1.0


def speed(*notes):
    return Play.speed(SimpleNamespace(measured=lambda lane: list(notes)))


def test_a_step_of_a_second_a_unit_does_not_set_the_speed_alone():
    """Two plays on the same Nexperia data: the pixels' folds took 1.1 s (estimate 4.5) in one and 5.3 s in the
    other; with the quick VAE's 2.3 s (estimate 3) an unweighted median of the two made the CNN recipe look twice
    as fast as it is."""
    pixels, vae_fast = {"unit_s": 1.12, "estimate_s": 4.5}, {"unit_s": 2.31, "estimate_s": 3.0}
    assert speed(pixels, vae_fast) == pytest.approx(2.31 / 3.0)
    conv_vae = {"unit_s": 97.0, "estimate_s": 97.0}
    assert speed(pixels, vae_fast, conv_vae) == pytest.approx(1.0)   # the longest unit measures the machine best
    assert speed() == 1.0
    assert speed({"unit_s": 0.1, "estimate_s": 10.0}) == MIN_SPEED
