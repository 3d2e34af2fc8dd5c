"""The article's one way of writing an interval (``paper.intervals.ci``), which every ``*_values``
module uses."""

import math

from grokpaper.paper.intervals import ci


def test_an_interval_reads_with_a_dash_or_to_where_a_dash_could_read_as_a_minus():
    assert ci(14.44, 85.2, 0.95) == "95 % CI 14.4–85.2"
    assert ci(-0.98, -0.74, 0.95, 2) == "95 % CI -0.98 to -0.74"
    assert ci(0.2, 0.7, 0.99, 2, to=True) == "99 % CI 0.20 to 0.70"
    assert ci(0.02, 0.31, 0.95, 1, scale=100, signed=True) == "95 % CI +2.0 to +31.0"
    assert ci(1234.0, 5678.0, 0.95, 0) == "95 % CI 1,234–5,678"


def test_a_missing_bound_gives_no_interval():
    assert ci(None, 1.0, 0.95) == "" and ci(0.1, math.nan, 0.95) == ""
