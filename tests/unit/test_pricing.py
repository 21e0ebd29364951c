"""The cost estimate of hibernated endpoints (pricing.py): the lookup and the sum, not the table's figures
(pricing.py's docstring names their page and says they are unverified)."""

from sagedrop import pricing


def test_every_pair_counts_whatever_its_place_and_a_missing_type_is_named():
    """An unknown type before known ones stops nothing; a count of 0 (or less) adds nothing; a variant
    without an instance type (serverless) is listed as "?"; the sum keeps four decimals."""
    large, gpu = pricing.HOURLY_USD["ml.m5.large"], pricing.HOURLY_USD["ml.g4dn.xlarge"]
    total, unknown = pricing.hourly_cost(
        [
            ("ml.new.xlarge", 3),
            (None, 1),
            ("ml.m5.large", 2),
            ("ml.c5.large", 0),
            ("ml.r5.large", -1),
            ("ml.g4dn.xlarge", 1),
        ]
    )
    assert (total, unknown) == (round(2 * large + gpu, 4), ["ml.new.xlarge", "?"])
    assert pricing.hourly_cost([("ml.m5.large", 1)] * 3) == (round(3 * large, 4), [])
    assert pricing.hourly_cost([]) == (0.0, [])


def test_the_sum_is_rounded_to_four_decimals(monkeypatch):
    """Rounded for the report, whatever precision a future table entry has."""
    monkeypatch.setitem(pricing.HOURLY_USD, "ml.future.large", 0.123456)
    assert pricing.hourly_cost([("ml.future.large", 1)]) == (0.1235, [])
    assert pricing.hourly_price("") is None and pricing.hourly_price(None) is None
