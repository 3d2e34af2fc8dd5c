"""The values the article's sections on the document's future experiments state (chapters 13-16:
``R.task_tokens``, ``R.replay``, ``R.multitask``, ``R.similarity``; their tests are one family of
their own, Holm-corrected within it, in ``R.similarity.task_family``).

As in ``values``: one number or one short formatted value per function, for an inline
``{python}`` expression; what a sentence claims about it is checked by a guard. A test's p is
always the one corrected within chapters 13-16's family, the one the verdicts use.
"""

from __future__ import annotations

import pandas as pd

from grokpaper.analysis.stats import is_missing
from grokpaper.analysis.swapped_pairs import SWAPPED_COLUMNS
from grokpaper.core.data import split_indices
from grokpaper.core.tasks import replay_count
from grokpaper.paper import contract
from grokpaper.paper import task_tokens as tt
from grokpaper.paper.audit.claims import load_claims
from grokpaper.paper.intervals import ci
from grokpaper.paper.report import bound_sign, count, fmt
from grokpaper.paper.values import and_, p_text
from grokpaper.paper.verdicts import ALPHA


def family_test(R, test: str):
    """One test of chapters 13-16's family by its name (``task_tokens``' test names); KeyError
    naming the family's tests when it is not there."""
    family = R.similarity.task_family
    if test not in family:
        raise KeyError(f"no test {test!r} in chapters 13-16's family (tests: {sorted(family)})")
    return family[test]


def _interval(t, confidence: float, digits: int, scale: float = 1.0) -> str:
    """'95 % CI 4.1–23.5; ' (scaled), or '' for a test without an interval."""
    said = ci(t.ci_low, t.ci_high, confidence, digits, scale)
    return f"{said}; " if said else ""


def ratio(R, test: str, digits: int = 1) -> str:
    """'≥ 9.8× (95 % CI 4.1–23.5; Holm-corrected p = 0.012, 5 seeds)': a ratio of epochs of the family
    (geometric mean over seeds, '≥'/'≤' where censored runs make it a bound) with its interval and
    its p corrected within chapters 13-16; 'undefined (...)' without pairs."""
    t = family_test(R, test)
    if t.effect != "ratio":
        raise ValueError(f"{test!r} is a {t.effect}, not a ratio of epochs")
    if is_missing(t.estimate):
        return f"undefined ({UNDEFINED_RATIO})"
    mixed = "; censored runs on both sides, so neither a bound nor an unbiased estimate" if t.bound == "mixed" else ""
    return (f"{bound_sign(t.bound)}{fmt(t.estimate, digits)}× ({_interval(t, R.similarity.confidence, digits)}"
            f"Holm-corrected {p_text(t.p_holm)}, {count(t.n, 'seed')}{mixed})")


# A paired ratio leaves out a seed whose two runs both never reached the threshold by the cap.
UNDEFINED_RATIO = "in no seed did either run reach it by the cap"


def difference(R, test: str, digits: int = 1) -> str:
    """'+12.3 points (95 % CI 2.0–22.6; Holm-corrected p = 0.04, 5 seeds)': a paired difference of shares
    of the family (addition's accuracy), in percentage points; not for the multi-task hypothesis's
    difference of chance-corrected overlaps, which is not a share."""
    t = family_test(R, test)
    if t.effect != "difference":
        raise ValueError(f"{test!r} is not a difference of shares")
    if is_missing(t.estimate):
        return "undefined (no pairs)"
    return (f"{100 * t.estimate:+.{digits}f} points ({_interval(t, R.similarity.confidence, digits, 100)}"
            f"Holm-corrected {p_text(t.p_holm)}, {count(t.n, 'seed')})")


def _chapter(R, experiment: str):
    """The chapter whose runs an experiment names: chapter 13 ('sequential') or 14 ('replay')."""
    if experiment not in ("sequential", "replay"):
        raise ValueError(f"experiment must be 'sequential' (chapter 13) or 'replay' (chapter 14); got {experiment!r}")
    return R.task_tokens if experiment == "sequential" else R.replay


def addition_at_end(R, condition: str, experiment: str = "sequential") -> str:
    """'0.9 % (95 % CI 0.1–1.7) of addition's test pairs at the end, from 100 % at the start':
    addition's test accuracy at its own token over a condition's runs (chapter 13's sequential
    transfers, or chapter 14's with replay)."""
    numbers = _chapter(R, experiment)
    r = numbers.retention[condition]
    interval = ci(r.end_ci_low, r.end_ci_high, numbers.confidence, 1, scale=100)
    return (f"{fmt(100 * r.end_mean, 1)} %{f' ({interval})' if interval else ''} of addition's test pairs at the end, from "
            f"{fmt(100 * r.start_mean, 1)} % at the start")


def kept_of_answered(R, condition: str, experiment: str = "sequential") -> str:
    """'0.9 % of the test pairs their sources answered (8,939 per seed, mean over 5 seeds)': what a
    condition's runs still answer of what their source knew (``TaskRetention.kept``)."""
    r = _chapter(R, experiment).retention[condition]
    seeds = [s for s, k in r.kept.items() if not is_missing(k)]   # a source that answered none has nothing kept
    if not seeds or is_missing(r.kept_mean):
        return "nothing to keep (their sources answered none of the test pairs)"
    answered = sorted(r.answered[s] for s in seeds)
    n = f"{answered[0]:,}" if answered[0] == answered[-1] else f"{answered[0]:,}–{answered[-1]:,}"
    return f"{fmt(100 * r.kept_mean, 1)} % of the test pairs their sources answered ({n} per seed, mean over " \
           f"{count(len(seeds), 'seed')})"


def loss_floor(R) -> str:
    """'0.138 nats, and after 3,000 epochs its run's loss was 0.143': the loss floor of replay without
    a task token (chapter 14) and where its short run's training loss ended."""
    x = R.replay.ill_posed
    if x is None:
        return "n/a (no run)"
    return f"{fmt(x.loss_floor, 3)} nats, and after {fmt(x.epochs)} epochs its run's loss was {fmt(x.final_train_loss, 3)}"


def two_labels(R) -> str:
    """'424': the inputs to which replay without a task token gives two labels (chapter 14's short run)."""
    x = R.replay.ill_posed
    return "n/a (no run)" if x is None else fmt(x.n_inputs_with_two_labels)


def replayed_pairs(R) -> str:
    """'426 of the 3,830': the fixed subset of the source's addition training pairs that chapter 14
    replays (``core.tasks.replay_count``), of the training split's pairs."""
    n_train = _n_train(R, contract.Replay)
    return f"{fmt(replay_count(n_train, R.replay.replay_share))} of the {fmt(n_train)}"


def replay_runs(R, condition: str) -> pd.DataFrame:
    """Chapter 14's replay runs of a condition, one row each, from its runs table."""
    return tt.select(pd.DataFrame(R.replay.runs_table), "replay", conditions=[condition])


def replay_lowest(R, condition: str) -> str:
    """'5.3–10.8 %': the range over chapter 14's replay runs of a condition of addition's lowest test
    accuracy at any evaluation."""
    lows = sorted(v for v in replay_runs(R, condition)["add acc lowest"] if not is_missing(v))
    if not lows:
        return "n/a (no runs)"
    return f"{fmt(100 * lows[0], 1)}–{fmt(100 * lows[-1], 1)} %"


def replay_lowest_when(R, condition: str) -> str:
    """'epochs 120–170 of the 1,550–2,110 trained': over chapter 14's replay runs of a condition, the
    range of the epoch at which addition's test accuracy was lowest, and of the runs' lengths."""
    runs = replay_runs(R, condition)
    at = sorted(v for v in runs["add acc lowest epoch"] if not is_missing(v))
    trained = sorted(v for v in runs["epochs trained"] if not is_missing(v))
    if not at or not trained:
        return "n/a (no runs)"
    return f"{'epoch' if at[0] == at[-1] else 'epochs'} {_range(at)} of the {_range(trained)} trained"


def _range(values, formatted: bool = False) -> str:
    """'120–170', or '120' when the sorted ``values`` agree (already strings when ``formatted``)."""
    low, high = (values[0], values[-1]) if formatted else (fmt(values[0]), fmt(values[-1]))
    return low if low == high else f"{low}–{high}"


def replay_readings(R) -> dict:
    """The replay hypothesis's difference read at each of ``task_tokens.REPLAY_READ_AT``'s epochs
    other than the pair's common one (``task_tokens.replay_hypothesis_at`` per reading column)."""
    table = pd.DataFrame(R.replay.runs_table)
    return {column: tt.replay_hypothesis_at(table, column, R.replay.confidence) for column in tt.REPLAY_READ_AT}


def replay_hypothesis_sensitivity(R) -> str:
    """'−4.1 points (95 % CI ...) at each run's own end and −5.7 points (...) at subtraction's first top':
    the replay hypothesis's difference read elsewhere than at the pair's common epoch
    (``replay_readings``; uncorrected, a sensitivity check, not a test of the family)."""
    said = []
    for column, d in replay_readings(R).items():
        where = tt.REPLAY_READ_AT[column]
        said.append("undefined (no pairs)" if is_missing(d.mean) else
                    f"{_effect(d.mean, d.ci_low, d.ci_high, d.confidence, f'{p_text(d.p)} uncorrected', d.n_pairs, 'replay', 1)}"
                    f" at {where}")
    return and_(said)


def future_verdict(R, claim_id: str) -> str:
    """The claims audit's verdict on one of the document's future-work hypotheses (chapter 16)."""
    return R.similarity.future_audit[claim_id].verdict


def family_corrected(R) -> bool:
    """Whether this build holds chapter 16, which corrects chapters 13-16's tests as one family:
    without it, the article states each chapter's own tests, before correction."""
    return R.has(contract.Similarity)


def speedup_over_random(R, condition: str) -> str:
    """Chapter 13's speed-up of a condition over random init, with task tokens: corrected within
    chapters 13-16's family (``ratio``) once chapter 16 is in the build, before correction until then
    ('≥ 9.8× (95 % CI 4.1–23.5; p = 0.012 before correction, 5 seeds)')."""
    return _family_or_own(R, tt.sequential_speedup_test(condition), R.task_tokens.speedups.get(condition),
                          R.task_tokens.confidence, 1)


HYPOTHESIS = {"replay": (tt.REPLAY_HYPOTHESIS_TEST, "future-replay"),
              "multitask": (tt.MULTITASK_HYPOTHESIS_TEST, "future-multitask"),
              "similarity": (tt.SIMILARITY_HYPOTHESIS_TEST, "future-similarity")}


def hypothesis_effect(R, chapter: str, digits: int = 2) -> str:
    """The effect of a chapter's future-work hypothesis in its own unit ('+0.62 (95 % CI +0.40 to
    +0.85; Holm-corrected p = 0.01)'): with the p corrected within chapters 13-16's family once
    chapter 16 is in the build, before correction until then (``hypothesis_before_correction``)."""
    if chapter not in HYPOTHESIS:
        raise ValueError(f"chapter must be one of {', '.join(HYPOTHESIS)}; got {chapter!r}")
    if not family_corrected(R):
        return hypothesis_before_correction(R, chapter, digits)
    t = family_test(R, HYPOTHESIS[chapter][0])
    if is_missing(t.estimate):
        return "undefined (no pairs)"
    if chapter == "similarity":   # a trend: mean Spearman rho over seeds, tested by Page's trend test
        return _effect(t.estimate, t.ci_low, t.ci_high, R.similarity.confidence,
                       f"Page's trend test, Holm-corrected {p_text(t.p_holm)}", t.n, chapter, digits)
    return _effect(t.estimate, t.ci_low, t.ci_high, R.similarity.confidence, f"Holm-corrected {p_text(t.p_holm)}",
                   t.n, chapter, digits)


def similarity_trend_reading(R) -> str:
    """"its t-interval over seeds lies below 0, the reverse of the predicted order (more early retention for
    a less similar target), but Page's trend test is not significant before the correction (p = 0.051) or
    after it": what chapter 16's
    hypothesis's two statistics, the interval of the mean Spearman rho and Page's test (Holm within
    chapters 13-16's tests), say of the targets' order, together."""
    t = family_test(R, tt.SIMILARITY_HYPOTHESIS_TEST)
    if any(is_missing(v) for v in (t.estimate, t.ci_low, t.ci_high, t.p_holm)):
        return "undefined (no test)"
    side = "above" if t.ci_low > 0 else "below" if t.ci_high < 0 else None
    order = {"above": "the predicted order (more early retention for a more similar target)",
             "below": "the reverse of the predicted order (more early retention for a less similar target)"}
    significant = t.p_holm < ALPHA
    if side and not significant:
        when = ("after the correction" if t.p < ALPHA else
                f"before the correction ({p_text(t.p)}) or after it")
        return f"its t-interval over seeds lies {side} 0, {order[side]}, but Page's trend test is not significant {when}"
    if not side and not significant:
        return "neither its interval nor Page's trend test shows an order"
    test_side = "above" if t.estimate > 0 else "below"
    if side == test_side:
        return f"its interval and Page's trend test agree on {order[side]}"
    return "Page's trend test is significant after the correction, but the interval holds 0"


def replay_gain(R, condition: str) -> str:
    """Replay's gain in addition's test accuracy for a condition's runs, at each pair's common
    epoch, in points (chapter 14): corrected within chapters 13-16's family once chapter 16 is in
    the build (``difference``), before correction until then."""
    if family_corrected(R):
        return difference(R, tt.replay_gain_test(condition))
    d = R.replay.retention_gain[condition]
    if is_missing(d.mean):
        return "undefined (no pairs)"
    return _effect(d.mean, d.ci_low, d.ci_high, d.confidence, f"{p_text(d.p)} before correction", d.n_pairs,
                   "replay", 1)


def replay_speedup(R, condition: str, digits: int = 2) -> str:
    """Chapter 14's subtraction speed with replay: a condition's epochs to the top threshold without
    replay over with it, per seed (geometric mean; above 1, replay was the faster): corrected within
    chapters 13-16's family once chapter 16 is in the build (``ratio``), before correction until then."""
    s = R.replay.speed.get(condition)
    if s is None and not family_corrected(R):
        raise KeyError(f"chapter 14 has no speed comparison for {condition!r} (conditions: {sorted(R.replay.speed)})")
    return _family_or_own(R, tt.replay_speed_test(condition), s, R.replay.confidence, digits)


def hypothesis_verdict(R, chapter: str) -> str:
    """The verdict on a chapter's future-work hypothesis: the claims audit's (chapter 16, on the
    corrected family) once chapter 16 is in the build; until then the chapter's, 'before correction'."""
    if chapter not in HYPOTHESIS:
        raise ValueError(f"chapter must be one of {', '.join(HYPOTHESIS)}; got {chapter!r}")
    if not family_corrected(R):
        return f"{getattr(R, chapter).hypothesis.verdict} before correction"
    return future_verdict(R, HYPOTHESIS[chapter][1])


def similarity_speedup(R, target: str) -> str:
    """Chapter 16's speed-up of the grokked source over random init to one target (``ratio``; its
    per-seed bounds when every pair is one); the family has none for subtraction (chapter 13's runs)
    or the random table (it cannot generalise)."""
    return _family_or_own(R, tt.similarity_speedup_test(target), R.similarity.speedups.get(target),
                          R.similarity.confidence, 2)


def similarity_reached(R, target: str, condition: str) -> str:
    """'5 of 5 runs reached 99.9%, in 5,620–9,460 epochs' or 'no run reached 99.9% by the cap of
    30,000 epochs: 1 run passed 90% (first at epoch 21,400) and ended at 99.1 %; 4 runs stayed below
    90%, ending at 4.8–31.2 % of the test pairs with training accuracy at 100.0 %': chapter 16's runs of
    one condition to one target, on the target's test accuracy (first reached; the lowest of the
    study's thresholds tells a run short of the top from one that never began to generalise); what
    a speed-up whose every ratio is a bound cannot say in one number."""
    rows = tt.select(pd.DataFrame(R.similarity.runs_table), "similarity", target, [condition])
    if not len(rows):
        return "no runs"
    top, lowest = R.similarity.top_threshold, min(R.params(contract.Similarity)["thresholds"])
    cap = R.similarity.random_table_cap if target == "random" else R.similarity.cap
    first_top, first_lowest = (contract.epochs_column(contract.FIRST, t) for t in (top, lowest))
    reached = sorted(int(v) for v in rows[first_top] if not is_missing(v))
    missed = rows[rows[first_top].isna()]
    said = []
    if reached:
        said.append(f"{len(reached)} of {count(len(rows), 'run')} reached {contract.pct(top)}, in {_range(reached)} epochs")
    if len(missed):
        near, far = missed[missed[first_lowest].notna()], missed[missed[first_lowest].isna()]
        groups = []
        if len(near):
            firsts = sorted(int(v) for v in near[first_lowest])
            groups.append(f"{count(len(near), 'run')} passed {contract.pct(lowest)} (first at "
                          f"{'epoch' if len(firsts) == 1 else 'epochs'} {_range(firsts)}) and ended at "
                          f"{_pct_range(near['final test acc'])} %")
        if len(far):
            groups.append(f"{count(len(far), 'run')} stayed below {contract.pct(lowest)}, ending at "
                          f"{_pct_range(far['final test acc'])} % of the test pairs with training accuracy at "
                          f"{_pct_range(far['final train acc'])} %")
        head = f"the other {count(len(missed), 'run')} did not" if reached else f"no run reached {contract.pct(top)}"
        said.append(f"{head} by the cap of {fmt(cap)} epochs: {'; '.join(groups)}")
    return "; ".join(said)


def _pct_range(shares) -> str:
    """'4.8–31.2' (percent, one decimal), or one value when the range's ends agree."""
    return _range([fmt(100 * min(shares), 1), fmt(100 * max(shares), 1)], formatted=True)


def _first_lowest(R) -> str:
    """Chapter 16's runs table's column of the first epoch at the lowest of the study's thresholds."""
    return contract.epochs_column(contract.FIRST, min(R.params(contract.Similarity)["thresholds"]))


def far_below_swapped(R, condition: str, target: str | None = None) -> pd.DataFrame:
    """Chapter 16's runs of ``condition`` to a commutative target (those with the swapped-pair split,
    ``analysis.swapped_pairs``; only ``target``'s when given) that never reached the lowest of the
    study's thresholds."""
    rows = tt.select(pd.DataFrame(R.similarity.runs_table), "similarity", target, [condition])
    rows = rows[rows[SWAPPED_COLUMNS[0]].notna()]
    return rows[rows[_first_lowest(R)].isna()]


def swapped_split(R, condition: str, target: str | None = None) -> str:
    """'14.8–100.0 % of the swapped pairs (those whose swap (b, a) is a training pair; 29.7–30.6 % of
    the test pairs), against 0.7–2.3 % of the others': over chapter 16's runs of ``condition`` (to ``target``
    when given) to a commutative target that stayed below the lowest threshold
    (``far_below_swapped``), their test accuracy split by the swapped pair."""
    rows = far_below_swapped(R, condition, target)
    if not len(rows):
        return "n/a (no run of a commutative target stayed below the lowest threshold)"
    share, swapped, other = SWAPPED_COLUMNS
    return (f"{_pct_range(rows[swapped])} % of the swapped pairs ({_pct_range(rows[share])} % of the test pairs), "
            f"against {_pct_range(rows[other])} % of the others")


def swapped_against_random(R, target: str, pairs: str = "swapped") -> str:
    """'in 4 of 5 seeds the grokked source's run answered more of them than random initialisation's
    (from 12.0 percentage points fewer to 72.4 more)': chapter 16's runs to ``target`` that stayed below
    the lowest threshold from both starts, paired by seed, on their accuracy over the test pairs whose
    swap is a training pair (``pairs`` 'swapped') or over the others ('other'); what the split from
    random initialisation, the control, says of the grokked source's. Descriptive: no test is made of it."""
    column = {"swapped": SWAPPED_COLUMNS[1], "other": SWAPPED_COLUMNS[2]}[pairs]
    both = far_below_swapped(R, "grokked", target)[["seed", column]].merge(
        far_below_swapped(R, "random", target)[["seed", column]], on="seed", suffixes=(" grokked", " random"),
        validate="one_to_one")
    if not len(both):
        return "n/a (no seed in which both starts stayed below the lowest threshold)"
    gap = 100 * (both[f"{column} grokked"] - both[f"{column} random"])
    more = int((gap > 0).sum())
    said = f"in {more} of {count(len(both), 'seed')} the grokked source's run answered more of them than random initialisation's"
    if more == len(both):
        return said + f" (by {_range([fmt(gap.min(), 1), fmt(gap.max(), 1)], formatted=True)} percentage points)"
    if more == 0:
        return said + f" (it answered {_range([fmt(-gap.max(), 1), fmt(-gap.min(), 1)], formatted=True)} percentage points fewer)"
    return said + f" (from {fmt(-gap.min(), 1)} percentage points fewer to {fmt(gap.max(), 1)} more)"


def swapped_share_of_correct(R, condition: str, target: str | None = None) -> str:
    """'88–91 %': over chapter 16's runs of ``condition`` (to ``target``) that stayed below the lowest
    threshold, the share of each run's correct test answers that lie on test pairs whose swap is a
    training pair."""
    rows = far_below_swapped(R, condition, target)
    share, swapped, _ = SWAPPED_COLUMNS
    shares = [sh * sw / acc for acc, sh, sw in zip(rows["final test acc"], rows[share], rows[swapped]) if acc]
    return f"{_pct_range(shares)} %" if shares else "n/a (no such run)"


def similarity_slowdown(R, target: str) -> str:
    """'at least 3.1× as many epochs as random initialisation in every seed': chapter 16's speed-up to
    ``target`` when every seed's ratio (random init's epochs over the grokked source's) is below 1,
    said the other way round, as the grokked source's slowdown; 'at least' where a ratio is an upper
    bound (the grokked run censored at the cap). 'n/a ...' otherwise (``similarity_speedup`` says it)."""
    s = R.similarity.speedups.get(target)
    per_seed = {} if s is None else {seed: v for seed, v in s.per_seed.items() if not is_missing(v)}
    if not per_seed or any(not v < 1 for v in per_seed.values()):
        return "n/a (not below 1 in every seed)"
    bounds = {s.per_seed_bound.get(seed) for seed in per_seed}
    least = "at least " if bounds == {"<="} else "" if bounds == {None} else "(some bounds) "
    return f"{least}{fmt(1 / max(per_seed.values()), 1)}× as many epochs as random initialisation in every seed"


def train_top_ranges(R) -> str:
    """'200–290 (subtraction), 520–860 (multiplication), ... epochs, against 150–160 from random
    initialisation': chapter 16's epochs to the top threshold on each target's training accuracy, per
    target from the grokked source, and over every target from random init."""
    table = tt.select(pd.DataFrame(R.similarity.runs_table), "similarity")
    epochs = table.dropna(subset=["train first top"])
    grokked = []
    for t in R.similarity.targets:
        firsts = sorted(int(v) for v in tt.select(epochs, "similarity", t, ["grokked"])["train first top"])
        if firsts:
            grokked.append(f"{_range(firsts)} ({tt.target_name(t)})")
    random = sorted(int(v) for v in tt.select(epochs, "similarity", conditions=["random"])["train first top"])
    if not grokked or not random:
        return "n/a (no runs)"
    return f"{and_(grokked)} epochs, against {_range(random)} from random initialisation"


def early_retention_range(R) -> str:
    """'3.3–4.7': the range of addition's early retention (%) over chapter 16's grokked runs (the
    values the similarity hypothesis's test ranks; the runs table's 'early retention' column)."""
    values = _early_retention(R).stack()
    return "n/a" if not len(values) else _pct_range(values)


def _early_retention(R) -> pd.DataFrame:
    """Chapter 16's early retention, seeds × targets (the document's order, most similar first)."""
    table = tt.select(pd.DataFrame(R.similarity.runs_table), "similarity", conditions=["grokked"])
    column = next((c for c in table.columns if c.startswith("early retention")), None)
    if column is None:
        return pd.DataFrame()
    return table.pivot_table(index="seed", columns="target", values=column, aggfunc="first")[
        [t for t in R.similarity.targets if t in set(table["target"])]]


def lowest_early_retention(R) -> str:
    """"subtraction's, in 5 of 5 seeds": the target with the lowest early retention in the most seeds,
    and in how many."""
    early = _early_retention(R).dropna()
    if not len(early):
        return "n/a"
    lowest = early.idxmin(axis=1).value_counts()
    return f"{tt.target_name(lowest.index[0])}'s, in {lowest.iloc[0]} of {count(len(early), 'seed')}"


def trend_without(R, target: str) -> str:
    """'+0.20': the similarity hypothesis's effect (mean over seeds of Spearman's correlation with
    the predicted order) over the targets without ``target``; a sensitivity check, chosen after the
    data were seen."""
    early = _early_retention(R).drop(columns=[target]).dropna()
    if early.shape[1] < 3 or not len(early):
        return "n/a"
    rhos = [r for r in tt.spearman_with_order(early, list(early.columns)[::-1]).values() if not is_missing(r)]
    return f"{sum(rhos) / len(rhos):+.2f}" if rhos else "n/a"


def same_final_sets_as_random_table(R) -> str:
    """'multiplication in 4 of 5 seeds, a² + ab + b² in 4 of 5 and subtraction in 2 of 5': per target,
    the seeds whose grokked run ends with the same key-frequency set at its target's token as the
    same seed's run to the random table (``Similarity.reuse``' sets)."""
    reuse = R.similarity.reuse
    if "random" not in reuse:
        return "n/a (no random table)"
    table_sets = _sets(reuse["random"])
    said = []
    for t in [t for t in R.similarity.targets if t in reuse and t != "random"]:
        seeds = _sets(reuse[t])
        same = sum(1 for seed, (_, final) in seeds.items()
                   if seed in table_sets and sorted(table_sets[seed][1]) == sorted(final))
        said.append(f"{tt.target_name(t)} in {same} of {count(len(seeds), 'seed')}")
    return and_(said)


def _sets(sharing: contract.FrequencySharing) -> dict[int, tuple]:
    """A sharing's two frequency sets per seed, by integer seed (saved results key them by string)."""
    return {int(seed): tuple(sets) for seed, sets in sharing.sets.items()}


def passed_run_sharing(R, target: str) -> str:
    """'seed 42 shares 3 of its source's 5 key frequencies, in a final set of 20 (1.8 by chance)': per
    grokked run to ``target`` that passed the lowest threshold, the source's key frequencies found again
    at the target's token, against the hypergeometric expectation for sets of those sizes
    (``Similarity.reuse``; descriptive, no test)."""
    reuse = R.similarity.reuse.get(target)
    passed = _passed(R, "grokked", target)
    if reuse is None or not passed:
        return "n/a (no such run)"
    said = []
    for seed in passed:
        source, final = _sets(reuse).get(seed, ([], []))
        shared = len(set(source) & set(final))
        chance = len(source) * len(final) / reuse.n_candidates
        said.append(f"seed {seed} shares {shared} of its source's {len(source)} key frequencies, in a final set of "
                    f"{len(final)} ({fmt(chance, 1)} by chance)")
    return and_(said)


def source_key_total(R) -> str:
    """'30': the grokked sources' key frequencies summed over seeds (the denominator of the reuse)."""
    reuse = R.similarity.reuse
    if not reuse:
        return "n/a"
    return fmt(sum(len(source) for source, _ in _sets(next(iter(reuse.values()))).values()))


def task_family_size(R) -> int:
    """The tests of chapters 13-16's family that have a p (a row without one, say a speed-up whose
    every pair is a bound, is listed but not corrected)."""
    return sum(1 for t in R.similarity.task_family.values() if not is_missing(t.p))


def similarity_reuse(R) -> str:
    """'subtraction 24, multiplication 22 and a² + ab + b² 20 of the source's key frequencies over 5 seeds,
    against 2.6–3.9 by chance (Holm-corrected p < 0.001 for each); the random table, which no frequency
    can help, 24': chapter 16's frequency reuse from the grokked source per target (the grokked runs'
    final key frequencies at the target's token against the source's, summed over seeds), each p
    corrected within chapters 13-16's family, with the random table, the control, last."""
    reuse = R.similarity.reuse
    targets = [t for t in R.similarity.targets if t in reuse and t != "random"]
    if not targets:
        return "n/a (no runs)"
    chance = sorted(reuse[t].expected_by_chance for t in targets)
    ps = [family_test(R, tt.reuse_test(t)).p_holm for t in targets]
    if len(ps) == 1 or any(is_missing(x) for x in ps):
        p_said = "; ".join(p_text(x) for x in ps)
    else:
        p_said = "p < 0.001 for each" if max(ps) < 0.001 else f"p ≤ {max(ps):#.2g} for each"
    said = (and_([f"{tt.target_name(t)} {fmt(reuse[t].total_shared)}" for t in targets])
            + f" of the source's key frequencies over {count(reuse[targets[0]].n_seeds, 'seed')}, against "
            + f"{_range([fmt(chance[0], 1), fmt(chance[-1], 1)], formatted=True)} by chance (Holm-corrected {p_said})")
    if "random" in reuse:
        said += f"; the random table, which no frequency can help, {fmt(reuse['random'].total_shared)}"
    return said


def bases_of(R, target: str = "multiply") -> pd.DataFrame:
    """Chapter 16's basis table (``Similarity.bases``), the rows of one target's runs (a build from
    before the random table joined it as the control holds multiplication's only)."""
    bases = pd.DataFrame(R.similarity.bases)
    if not len(bases):
        return bases
    return bases[bases["target"] == target] if "target" in bases else bases if target == "multiply" else bases.iloc[:0]


def basis_explained(R, condition: str, basis: str, runs: str = "all", target: str = "multiply") -> str:
    """'0.76–0.80': over chapter 16's runs of ``condition`` to ``target`` (multiplication, or the
    random table, the control), the range of the mean share of a neuron's variance its best frequency
    explains in ``basis`` ('additive' or 'discrete-log'; on the inputs the basis covers); ``runs``:
    'all', 'far below' (those that stayed below the lowest threshold, ``far_below_swapped``) or
    'passed' (those that passed it)."""
    bases = bases_of(R, target)
    rows = bases[(bases["condition"] == condition) & (bases["basis"] == basis)] if len(bases) else bases
    if runs == "far below":
        rows = rows[rows["seed"].isin(set(far_below_swapped(R, condition, target)["seed"]))] if len(rows) else rows
    elif runs == "passed":
        rows = rows[rows["seed"].isin(_passed(R, condition, target))] if len(rows) else rows
    if not len(rows):
        return "n/a (no runs)"
    return _range([fmt(min(rows["mean_frac_explained"]), 2), fmt(max(rows["mean_frac_explained"]), 2)], formatted=True)


def _passed(R, condition: str, target: str) -> list[int]:
    """The seeds of chapter 16's runs of ``condition`` to ``target`` that passed the lowest threshold."""
    rows = tt.select(pd.DataFrame(R.similarity.runs_table), "similarity", target, [condition])
    return sorted(int(s) for s in rows[rows[_first_lowest(R)].notna()]["seed"])


def seeds_passed(R, condition: str, target: str) -> str:
    """'seed 42': chapter 16's runs of ``condition`` to ``target`` that passed the lowest threshold."""
    seeds = _passed(R, condition, target)
    return "none" if not seeds else ("seed " if len(seeds) == 1 else "seeds ") + and_([str(x) for x in seeds])


def flips_over_both(R) -> str:
    """'no test changes significance' or 'the test "..." would not be significant (Holm p 0.03 ->
    0.31)': the sensitivity of chapters 13-16's verdicts to correcting them together with chapter
    06's family (``TaskFamilyTest.p_holm_over_both``)."""
    flips = [t for t in R.similarity.task_family.values() if not is_missing(t.p_holm)
             and not is_missing(t.p_holm_over_both) and (t.p_holm < ALPHA) != (t.p_holm_over_both < ALPHA)]
    if not flips:
        return f"no test changes significance at {ALPHA:g}"
    said = "; ".join(f'"{t.test}" (Holm {p_text(t.p_holm)} → {p_text(t.p_holm_over_both)})' for t in flips)
    hypotheses = [t.test for t in flips if t.test in {test for test, _ in HYPOTHESIS.values()}]
    among = "" if not hypotheses else (
        f"; among them {'the test' if len(hypotheses) == 1 else 'the tests'} of "
        + and_([f'"{_hypothesis_words(R.similarity.future_audit[claim])}"'
                for test, claim in HYPOTHESIS.values() if test in hypotheses and claim in R.similarity.future_audit])
        if R.similarity.future_audit else "")
    return f"{count(len(flips), 'test')} would change significance at {ALPHA:g}: {said}{among}"


# ----------------------------------------------------------------------------- each chapter's own test
# Before chapter 16 (and the correction over chapters 13-16's family it applies), the article can
# only state a chapter's own tests, uncorrected; these say so in their text.

def _family_or_own(R, test: str, s, confidence: float, digits: int) -> str:
    """A speed-up's text: its family test, Holm-corrected, once chapter 16 is in the build (``ratio``);
    before that, or when every pair is a bound and the family leaves it out
    (``task_tokens.every_pair_a_bound``), its chapter's own (``_speedup_text``)."""
    if family_corrected(R) and not (s is not None and tt.every_pair_a_bound(s)):
        return ratio(R, test, digits)
    return _speedup_text(s, confidence, digits)


def _speedup_text(s, confidence: float, digits: int) -> str:
    if s is None or is_missing(s.geometric_mean):
        return f"undefined ({UNDEFINED_RATIO})"
    if tt.every_pair_a_bound(s):
        ratios = {seed: r for seed, r in s.per_seed.items() if not is_missing(r)}
        # Every pair has a run that never got there: each ratio is only a bound, and a t-interval or
        # test of bounds would state a precision the data do not have.
        neither = sorted(seed for seed, r in s.per_seed.items() if is_missing(r))
        return (f"{bound_sign(s.bound)}{fmt(min(ratios.values()), digits)}–{fmt(max(ratios.values()), digits)}× "
                f"per seed, every ratio a bound (one run of each pair never got there by the cap; no interval)"
                + (f", and in seed{'s' if len(neither) > 1 else ''} {and_([str(x) for x in neither])} neither run got there"
                   if neither else ""))
    return (f"{bound_sign(s.bound)}{fmt(s.geometric_mean, digits)}× ({_interval(s, confidence, digits)}"
            f"{p_text(s.p)} before correction, "
            f"{count(s.n_pairs, 'seed')})")


def together_ratio(R, digits: int = 2) -> str:
    """Chapter 15's subtraction's epochs over addition's in the multi-task runs, per seed
    (geometric mean): the p corrected within chapters 13-16's family once chapter 16 is in the
    build, before correction until then."""
    return _family_or_own(R, tt.TOGETHER_TEST, R.multitask.together, R.multitask.confidence, digits)


def hypothesis_before_correction(R, chapter: str, digits: int = 2) -> str:
    """'+0.62 (95 % CI 0.40 to 0.85; p = 0.003 before correction, 5 seeds)': the effect of a
    chapter's future-work hypothesis (``replay``, ``multitask`` or ``similarity``), in its own
    unit, with its uncorrected p; the verdict is ``R.<chapter>.hypothesis.verdict``."""
    if chapter not in ("replay", "multitask", "similarity"):
        raise ValueError(f"chapter must be 'replay', 'multitask' or 'similarity'; got {chapter!r}")
    h = getattr(R, chapter).hypothesis
    if is_missing(h.estimate):
        return f"undefined ({h.reason})"
    return _effect(h.estimate, h.ci_low, h.ci_high, getattr(R, chapter).confidence,
                   f"{p_text(h.p)} before correction", h.n, chapter, digits)


def _effect(estimate, low, high, confidence: float, p: str, n: int, chapter: str, digits: int) -> str:
    """An effect with its interval: replay's, a difference of addition's accuracy, in percentage points;
    the multi-task hypothesis's, a difference of overlaps; the similarity trend's, a mean Spearman rho."""
    scale, unit, digits = (100, " points", 1) if chapter == "replay" else (1, "", digits)
    interval = ci(low, high, confidence, digits, scale, signed=True)
    interval = f"{interval}; " if interval else ""
    return f"{scale * estimate:+.{digits}f}{unit} ({interval}{p}, {count(n, 'seed')})"


TASK_CHAPTERS = {contract.TaskTokens: "13 (sequential transfer)", contract.Replay: "14 (replay)",
                 contract.Multitask: "15 (multi-task training)",
                 contract.Similarity: "16 (task similarity, with the correction over chapters 13-16's tests and the "
                                      "audit's verdicts on the document's three future-work hypotheses)"}


def chapters_waiting(R) -> str:
    """'Chapters 14 (replay) and 16 (...) are not in this build: their runs are still training (a
    chapter waits for its runs; `python -m grokpaper run --dry-run` names them), so each p below is
    before the correction over chapters 13-16's tests. ' or '' once every one of them is in."""
    waiting = [name for kind, name in TASK_CHAPTERS.items() if not R.has(kind)]
    if not waiting:
        return ""
    p_note = (", so each p below is before the correction over chapters 13-16's tests"
              if not R.has(contract.Similarity) else "")
    return (f"Chapter{'s' if len(waiting) > 1 else ''} {and_(waiting)} {'are' if len(waiting) > 1 else 'is'} not in "
            f"this build: {'their' if len(waiting) > 1 else 'its'} runs are still training (a chapter waits for its runs; "
            f"`python -m grokpaper run --dry-run` names them){p_note}. ")


def memorising_ratio(R, digits: int = 2) -> str:
    """Chapter 16's random table, which cannot generalise: random init's epochs to the top threshold
    on training accuracy over the grokked source's (descriptive, outside the family)."""
    return _speedup_text(R.similarity.memorising, R.similarity.confidence, digits).replace(" before correction",
                                                                                          ", uncorrected")


def _hypothesis_words(row: contract.AuditRow) -> str:
    """A future-work hypothesis as the audit quotes it, its 'Hypothesis: ' and full stop dropped."""
    return row.claim.removeprefix("Hypothesis: ").rstrip(".")


def future_verdicts(R) -> str:
    """'"Replay helps grokked models more than memorized" is not established; "..." is supported in its
    comparative part only (...), within the family of chapters 13-16's tests (Holm p = 0.015) but not over
    both families at once (p = 0.070); "..." is not established': the claims audit's verdicts on the document's
    future-work hypotheses (chapter 16), each with the hypothesis as the audit quotes it (its
    'Hypothesis: ' dropped), the part its test covers where that is not all of it (claims.yaml's
    ``tested_part``), and, for a verdict that a significant test gives, whether the test stays
    significant when corrected over both families (the sensitivity check)."""
    rows = [R.similarity.future_audit[claim] for _, claim in HYPOTHESIS.values() if claim in R.similarity.future_audit]
    if not rows:
        return "not judged (no runs)"
    tested_part = {c.id: c.tested_part for c in load_claims()}
    tests = {claim: test for test, claim in HYPOTHESIS.values()}
    said = []
    for row in rows:
        text = f'"{_hypothesis_words(row)}" is {row.verdict}'
        if tested_part.get(row.id):
            text += f" in {tested_part[row.id]}"
        t = family_test(R, tests[row.id])
        if not is_missing(t.p_holm) and t.p_holm < ALPHA and not is_missing(t.p_holm_over_both):
            text += (f", within the family of chapters 13-16's tests (Holm p = {t.p_holm:#.2g})"
                     + (" and" if t.p_holm_over_both < ALPHA else " but not") + " over both families at once "
                     f"(p = {t.p_holm_over_both:#.2g})")
        said.append(text)
    return "; ".join(said)


def multitask_gap(R) -> str:
    """'520 epochs (95 % CI 308–732)': chapter 15's mean of subtraction's minus addition's epochs
    to the threshold both reached, per seed (descriptive: its test is the ratio, ``together_ratio``)."""
    d = R.multitask.gap
    if is_missing(d.mean):
        return "undefined (no seed where both reached it)"
    interval = ci(d.ci_low, d.ci_high, d.confidence, 0)
    interval = f" ({interval})" if interval else ""
    return f"{fmt(d.mean)} epochs{interval}"


def above_null(R, comparison: str) -> str:
    """'2 of 5 seeds': in how many seeds chapter 15's neuron-use overlap of one comparison is above its
    relabelling null (p below 1 - the study's confidence)."""
    use = R.multitask.neuron_use[comparison]
    alpha = 1 - R.multitask.confidence
    above = sum(1 for p in use.p_null.values() if not is_missing(p) and p < alpha)
    return f"{above} of {count(sum(not is_missing(p) for p in use.p_null.values()), 'seed')}"


def corrected_overlaps(R, comparison: str) -> str:
    """'0.43–0.80': the range over seeds of chapter 15's chance-corrected neuron-use
    overlap of one comparison (``Multitask.neuron_use``, by the chapter's label); KeyError naming the
    comparisons when there is no such one."""
    uses = R.multitask.neuron_use
    if comparison not in uses:
        raise KeyError(f"no comparison {comparison!r} in chapter 15's neuron use (comparisons: {sorted(uses)})")
    values = sorted(v for v in uses[comparison].corrected.values() if not is_missing(v))
    if not values:
        return "undefined (no seed)"
    return f"{values[0]:.2f}{' to ' if values[0] < 0 else '–'}{values[-1]:.2f}"   # a dash could read as a minus


# ----------------------------------------------------------------------------- what a review asked for
# Each states a fact of the runs that a sentence's reading could otherwise leave out.


def _n_train(R, kind) -> int:
    """The size of each task's training split (every seed's split has this size)."""
    params = R.params(kind)
    return len(split_indices(params["p"] ** 2, 0, params["frac_train"])[0])


def together_threshold(R) -> float:
    """The threshold chapter 15 compares the two tasks at: the highest each task is sure to have
    reached when a run stops, which stops on both tasks' test pairs pooled (``tt.guaranteed_threshold``)."""
    params = R.params(contract.Multitask)
    n_test = params["p"] ** 2 - _n_train(R, contract.Multitask)
    sure = tt.guaranteed_threshold(params["thresholds"], R.multitask.top_threshold, 2 * n_test, n_test)
    if sure is None:
        raise ValueError("no threshold of chapter 15's is sure to be reached by each task when a run stops")
    return sure


def together_at_top_speedup(R) -> contract.SpeedUp | None:
    """Chapter 15's subtraction's epochs over addition's at the top threshold itself, per seed, from its
    runs table (``together_at_top`` says it; a guard checks it)."""
    m = R.multitask
    table = tt.select(pd.DataFrame(m.runs_table), "multitask")
    return tt.speedup(tt.per_task(table, ("add", "subtract"), m.top_threshold), m.top_threshold, m.cap, "add",
                      "subtract", m.confidence)


def together_at_top(R, digits: int = 2) -> str:
    """'1.12× (95 % CI 0.91–1.39; p = 0.20, uncorrected, 5 seeds), later in 5 of 5 seeds': chapter 15's
    subtraction's epochs over addition's at the top threshold itself, a sensitivity check of the
    threshold (descriptive, outside the family), from its runs table; 'undefined (...)' where in some
    seed a task never got there."""
    m = R.multitask
    s = together_at_top_speedup(R)
    if s is None or is_missing(s.geometric_mean):
        return f"undefined ({UNDEFINED_RATIO})"
    later = sum(1 for r in s.per_seed.values() if not is_missing(r) and r > 1)
    return (_speedup_text(s, m.confidence, digits).replace(" before correction", ", uncorrected")
            + f", subtraction later in {later} of {count(len(s.per_seed), 'seed')}")


def replay_random_unreached(R) -> str:
    """'no replay run from random initialisation reached 99.9 % by the cap of 30,000 epochs (subtraction
    ended at 0.6–99.6 % of its test pairs), against 4 of the 5 without replay': chapter 14's runs table."""
    table = pd.DataFrame(R.replay.runs_table)
    column = f"first {contract.pct(R.replay.top_threshold)}"
    replay = tt.select(table, "replay", conditions=["random"])
    none = tt.select(table, "sequential", conditions=["random"])
    reached = int(replay[column].notna().sum())
    ends = sorted(replay.loc[replay[column].isna(), "final test acc"])
    said = "no replay run" if reached == 0 else f"{reached} of the {len(replay)} replay runs"
    who = "subtraction" if reached == 0 else "those that did not"
    whose = "its" if reached == 0 else "subtraction's"
    ended = (f" ({who} ended at {fmt(100 * ends[0], 1)}–{fmt(100 * ends[-1], 1)} % of {whose} test pairs)"
             if ends else "")
    return (f"{said} from random initialisation reached {fmt(100 * R.replay.top_threshold, 1)} % by the cap of "
            f"{fmt(R.replay.cap)} epochs{ended}, against {int(none[column].notna().sum())} of the {len(none)} "
            f"without replay")


def addition_end_range(R, condition: str, experiment: str = "sequential") -> str:
    """'0.7–1.0 %': the range over a condition's runs of addition's test accuracy at the end."""
    numbers = _chapter(R, experiment)
    ends = sorted(v for v in tt.select(pd.DataFrame(numbers.runs_table), experiment, conditions=[condition])
                  ["add acc end"] if not is_missing(v))
    if not ends:
        return "n/a (no runs)"
    low, high = fmt(100 * ends[0], 1), fmt(100 * ends[-1], 1)
    return f"{low} %" if low == high else f"{low}–{high} %"


def distinct_part(R) -> str:
    """'the replay model's overlap is above its relabelling null in 5 of 5 seeds, and the model without
    replay, which lost addition, has the higher chance-corrected overlap in 4 of 5' (chapter 15)."""
    uses = R.multitask.neuron_use
    c = tt.distinct_part_counts(uses["sequential with replay, one model"],
                                uses["sequential without replay, one model (floor)"], 1 - R.multitask.confidence)
    return (f"the replay model's overlap is above its relabelling null in {c['above_null']} of "
            f"{count(c['with_null'], 'seed')}, and the model without replay, which lost addition, has the higher "
            f"chance-corrected overlap in {c['floor_higher']} of {c['compared']}")


def multitask_addition_pairs(R) -> str:
    """'all 3,830 of its training pairs, as many as subtraction's': what the multi-task runs train
    addition on (each task its own training split of the same size)."""
    return f"all {fmt(_n_train(R, contract.Multitask))} of its training pairs, as many as subtraction's"


def use_difference_every_input(R, digits: int = 2) -> str:
    """'+0.51 (95 % CI ...; p = ..., uncorrected, 5 seeds)': chapter 15's hypothesis difference on every
    input of each task, answered or not (the sensitivity of the inputs rule)."""
    uses = R.multitask.neuron_use
    d = tt.paired_difference(uses["multi-task, one model, every input (sensitivity)"].corrected,
                             uses["sequential with replay, one model, every input (sensitivity)"].corrected,
                             R.multitask.confidence, "every input")
    if is_missing(d.mean):
        return "undefined (no pairs)"
    return _effect(d.mean, d.ci_low, d.ci_high, d.confidence, f"{p_text(d.p)}, uncorrected", d.n_pairs,
                   "multitask", digits)
