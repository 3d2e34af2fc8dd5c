"""What chapters hand to the article: saved numbers, their prose formatting, Markdown tables."""

import math

import pandas as pd

from grokpaper.analysis import stats
from grokpaper.paper.contract import described
from grokpaper.paper.report import EPOCH_RANGE, clip_interval, fmt, md_table, significant, summary_text


def test_summary_text_states_censoring_and_missing_ci():
    d = described(stats.describe([100, 120, None], labels=[1, 2, 3], confidence=0.95, n_boot=1000))
    text = summary_text(d)
    assert text.startswith("110 (95 % CI") and text.endswith("1 of 3 runs never reached it")
    assert summary_text(described(stats.describe([None, None], labels=[1, 2], confidence=0.95, n_boot=1000))) == "never reached (0 of 2 runs)"
    assert "no CI" in summary_text(described(stats.describe([5.0], labels=[1], confidence=0.95, n_boot=1000)))
    assert summary_text(described(stats.describe([150, 150, 150], confidence=0.95, n_boot=1000))) == "150 in each of the 3 runs"
    same = summary_text(described(stats.describe([150, 150, None], labels=[1, 2, 3], confidence=0.95, n_boot=1000)))
    assert same == "150 in each of the 2 runs that reached it; 1 of 3 runs never did"


def test_percent_intervals_are_truncated_to_the_range_of_a_share():
    d = described(stats.describe([0.05, 0.6], confidence=0.95, n_boot=1000))            # t-interval at n = 2 reaches far below 0
    assert d.ci_low < 0
    assert summary_text(d, 1, percent=True).startswith("32.5 % (95 % CI 0.0 %–100.0 %")
    assert "CI -" in summary_text(d, 3) or "CI −" in summary_text(d, 3)   # plain numbers are left alone


def test_clip_interval_keeps_an_interval_inside_the_range():
    assert clip_interval(-0.02, 0.4, (0.0, 1.0)) == (0.0, 0.4)
    assert clip_interval(0.97, 1.03, (0.0, 1.0)) == (0.97, 1.0)
    assert clip_interval(-350.0, 2100.0, EPOCH_RANGE) == (0.0, 2100.0)
    # An interval wholly outside the range collapses onto its nearest end, never inverts.
    assert clip_interval(1.2, 1.5, (0.0, 1.0)) == (1.0, 1.0)
    assert clip_interval(-3.0, 5.0, None) == (-3.0, 5.0)
    # No interval (too few runs): nothing to truncate, the missing ends come back as they are.
    assert clip_interval(None, None, (0.0, 1.0)) == (None, None)
    low, high = clip_interval(math.nan, math.nan, EPOCH_RANGE)
    assert math.isnan(low) and math.isnan(high)


def test_number_formats():
    assert fmt(26442) == "26,442" and fmt(0.00943, 2, percent=True) == "0.94 %" and fmt(None) == "n/a"
    assert fmt(math.nan) == "n/a"
    assert [significant(v) for v in (67000.0, 0.3314159, 26442, 12.3456, 0.0)] == ["67,000", "0.3314", "26,442", "12.35", "0"]
    assert [significant(v) for v in (0.042, 4.8, 41.5, 0.0030001)] == ["0.042", "4.8", "41.5", "0.003"]


def test_md_table_is_a_pipe_table():
    df = pd.DataFrame({"condition": ["grokked", "random"], "epochs": [5545.0, None], "n": [5, 5]})
    text = md_table(df, digits=1).data.splitlines()
    assert text[0] == "| condition | epochs | n |"
    # dashes: longest word ("condition") + 2 or typical cell; a number column its longest cell + 2
    assert text[1] == "|:-----------|---------:|---:|"
    assert text[2] == "| grokked | 5,545.0 | 5 |" and text[3] == "| random | – | 5 |"
    assert md_table(df, digits="sig4").data.splitlines()[2] == "| grokked | 5,545 | 5 |"
    p_values = pd.DataFrame({"p": [0.0412, 2.64e-24]})
    assert md_table(p_values, digits={"p": "p"}).data.splitlines()[2:] == ["| 0.041 |", "| 2.6e-24 |"]
    reasons = pd.DataFrame({"id": ["a", "b"], "reason": ["a long reason that wraps " * 3, "short"]})
    rule = md_table(reasons).data.splitlines()[1].split("|")[1:-1]
    assert len(rule[1]) > 5 * len(rule[0])  # the text column gets most of a wrapped table's width
    # Too wide for a line: the short column keeps its width, the text columns share the rest.
    from grokpaper.paper.report import TABLE_LINE_CHARS

    wide = pd.DataFrame({"claim": ["a claim that is quite long " * 2] * 3, "verdict": ["not supported"] * 3,
                         "reason": ["a reason that goes on and on " * 4] * 3})
    dashes = [len(r.strip(":")) for r in md_table(wide).data.splitlines()[1].split("|")[1:-1]]
    assert dashes[1] == len("not supported") and abs(sum(dashes) - TABLE_LINE_CHARS) <= 1
    assert dashes[2] > dashes[0] > len("claim")
    bars = md_table(pd.DataFrame({"max |z|": [1.5]})).data.splitlines()
    assert bars[0] == "| max \\|z\\| |" and bars[2] == "| 1.500 |"  # a "|" in a header does not split it


def test_departures_name_what_a_build_changed_from_a_profile():
    from grokpaper.config import load_profile
    from grokpaper.paper.report import Results, count, departures

    profile = load_profile("paper")
    build = {c: {"params": profile.for_chapter(c), "numbers": {}} for c in ("02-transfer", "06-statistics")}
    assert departures(Results(build)) == {}
    build["06-statistics"]["params"] = {**profile.for_chapter("06-statistics"), "confidence": 0.99}
    build["02-transfer"]["params"] = {**profile.for_chapter("02-transfer"), "seeds": [42]}
    assert departures(Results(build)) == {"02-transfer": {"seeds": ([42], profile.for_chapter("02-transfer")["seeds"])},
                                          "06-statistics": {"confidence": (0.99, 0.95)}}
    assert count(1, "seed") == "1 seed" and count(5, "seed") == "5 seeds"


def test_versions_of_runs_counts_runs_per_version_pair():
    from grokpaper.paper.tables import versions_of_runs

    records = pd.DataFrame({"torch": ["2.13.0+cpu"] * 3 + ["2.14.1"], "package": ["0.1.0"] * 4})
    table = versions_of_runs(records)
    assert table.to_dict(orient="list") == {"torch": ["2.13.0+cpu", "2.14.1"], "package": ["0.1.0", "0.1.0"], "runs": [3, 1]}


def test_threshold_summary_truncates_epoch_intervals_at_zero():
    import pandas as pd

    from grokpaper.paper import tables

    # Two quick runs and one slow one: the t-interval of the mean reaches below 0 epochs.
    table = pd.DataFrame({"seed": [1, 2, 3], "condition": ["grokked"] * 3,
                          "first 90%": [250, 290, 1980], "sustained 90%": [250, 1070, None]})
    summary = tables.threshold_summary(table, [0.9], ["grokked"], confidence=0.95, n_boot=100)
    first = summary[summary["kind"] == "first"].iloc[0]
    assert first["CI low"] == 0.0 and first["CI high"] > first["mean"] > 0
    sustained = summary[summary["kind"] == "sustained"].iloc[0]
    assert sustained["reached"] == "2/3" and sustained["CI low"] == 0.0   # censored run counted, not averaged
