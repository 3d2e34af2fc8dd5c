"""Guards: the checks that the data still say what the article's sentences say.

``paper.qmd`` writes its findings as sentences ("grokked initialisation reached 99.9% sooner
than random initialisation"); the data behind them change with every build. Each such sentence
ends with an inline call of its guard, ``guard.faster("grokked")``, and the guard raises
``SentenceContradicted`` with the numbers when the data contradict the sentence::

    SentenceContradicted: 'grokked initialisation reached 99.9% sooner than random initialisation':
    random / grokked = 0.8× (95 % CI 0.4–1.6), Holm-corrected p = 0.61 over 31 tests; restricted
    mean epochs grokked 764 vs random ≥ 21,846 (needed: a ratio above 1, ...)

The functions here take the results first (``faster(R, "grokked")``); ``Guards(R, strict)`` binds
them to a build for the article. A strict ``Guards`` (the ``paper`` profile as written) lets the
exception through, so the render fails on a contradicted sentence. A lenient one (any other
profile: the smoke build's tiny runs contradict most findings, and a partial rerun may too)
keeps the sentence and marks it in place with what contradicts it.
"""

from __future__ import annotations

from grokpaper.analysis.stats import is_missing
from grokpaper.paper import values
from grokpaper.paper.audit import ALPHA
from grokpaper.paper.contract import FIRST, REUSE_TEST, epochs_column

RANDOM = values.RANDOM


class SentenceContradicted(Exception):
    """The data contradict a sentence of the article; the message quotes it and gives the numbers."""


def _contradicted(sentence: str, numbers: str, needed: str):
    raise SentenceContradicted(f"'{sentence}': {numbers} (the sentence needs {needed})")


def _p(p) -> str:
    return "n/a" if is_missing(p) else f"{p:.2g}"


# ----------------------------------------------------------------------------- transfer speed

def faster(R, a: str, b: str = RANDOM, significant: bool = True) -> None:
    """'``a`` initialisation reached the highest threshold sooner than ``b``' (and, with
    ``significant``, 'significantly after Holm's correction'): the per-seed ratio of epochs
    b / a above 1, its interval above 1 and the Holm p below ALPHA."""
    top = values.top(R)
    row = R.statistics.test(epochs_column(FIRST, values.highest(R)), b, a)
    sentence = f"{a} initialisation reached {top} sooner than {b}" + (", significantly" if significant else "")
    numbers = (f"{b} / {a} = {values.ratio(R, a) if b == RANDOM else row.estimate}, Holm-corrected p = "
               f"{_p(row.p_holm)} over {R.statistics.family_size} tests; restricted mean epochs to {top}: "
               f"{a} {values.restricted_mean(R, a)} vs {b} {values.restricted_mean(R, b)}")
    if is_missing(row.estimate) or row.estimate <= 1:
        _contradicted(sentence, numbers, "a ratio above 1")
    if significant and (is_missing(row.p_holm) or row.p_holm >= ALPHA or is_missing(row.ci_low) or row.ci_low <= 1):
        _contradicted(sentence, numbers, f"Holm p below {ALPHA} and the interval above 1")


def not_significantly_faster(R, a: str, b: str = RANDOM) -> None:
    """'... but not significantly after the correction': the Holm p of ``b`` vs ``a`` is not below ALPHA."""
    row = R.statistics.test(epochs_column(FIRST, values.highest(R)), b, a)
    if not is_missing(row.p_holm) and row.p_holm < ALPHA:
        _contradicted(f"{a} initialisation was not significantly faster than {b} after the correction",
                      f"Holm-corrected p = {_p(row.p_holm)} over {R.statistics.family_size} tests",
                      f"Holm p of at least {ALPHA}")


def some_censored(R) -> None:
    """'... runs never got there within the cap': at least one transfer run never reached the highest threshold."""
    if values.n_censored(R) == 0:
        _contradicted(f"some runs never reached {values.top(R)} within the cap", "every transfer run reached it",
                      "at least one censored run")


def headline_epochs_are_jumps(R) -> None:
    """'The document's headline epochs are the original run's largest single-epoch jumps': each
    condition's claimed epochs to 99.9 % equals seed 42's largest-jump epoch there."""
    jumps = R.transfer.original_comparison.seed42_largest_jumps
    claimed = {c: values.claimed(R, f"epochs-{c}") for c in jumps}
    differ = {c: (claimed[c], j.epoch) for c, j in jumps.items() if claimed[c].replace(",", "") != str(j.epoch)}
    if differ:
        _contradicted("the document's headline epochs are seed 42's largest single-epoch jumps",
                      "; ".join(f"{c}: claimed {x}, largest jump at epoch {e:,}" for c, (x, e) in differ.items()),
                      "every claimed epoch to equal a jump's epoch")


# ----------------------------------------------------------------------------- retention

def nothing_retained(R, *conditions: str) -> None:
    """'No ``conditions`` transfer kept a single addition answer where the two targets differ'."""
    kept = {c: R.retention.n_source_correct_where_targets_differ[c].max for c in conditions}
    if any(is_missing(n) or n > 0 for n in kept.values()):
        _contradicted(f"no {values.or_(conditions)} transfer kept a source-task answer where the targets differ",
                      "; ".join(f"{c}: at most {values.fmt(n)} per run" for c, n in kept.items()), "0 in every run")


# ----------------------------------------------------------------------------- circuits

def reuses(R, model: str) -> None:
    """'``model`` shares more of its grokked source's key frequencies than chance': Holm p below ALPHA."""
    p = R.statistics.test(REUSE_TEST, model).p_holm
    if is_missing(p) or p >= ALPHA:
        _contradicted(f"{model} shares more key frequencies with its grokked source than chance",
                      values.reuse(R, model), f"Holm p below {ALPHA}")


def does_not_reuse(R, model: str) -> None:
    """'``model`` shares no more of its grokked source's key frequencies than chance': Holm p not below ALPHA."""
    p = R.statistics.test(REUSE_TEST, model).p_holm
    if not is_missing(p) and p < ALPHA:
        _contradicted(f"{model} shares no more key frequencies with its grokked source than chance",
                      values.reuse(R, model), f"Holm p of at least {ALPHA}")


def subset_of_source(R, model: str = "grokked") -> None:
    """'Every ``model`` transfer's key frequencies are a subset of its own source's'."""
    seeds = R.circuits.frequency_reuse[model].seeds
    outside = [f"seed {s.seed}: {s.shared} of {s.size}" for s in seeds if s.shared != s.size]
    if outside or not seeds:
        _contradicted(f"every {model} transfer's key frequencies are a subset of its source's",
                      "; ".join(outside) or "no seeds", "every key frequency shared")


# ----------------------------------------------------------------------------- statistics

def pooled_not_within(R) -> None:
    """'The pooled correlation mostly measures the difference between conditions': it is
    significant after Holm, and no within-condition correlation is."""
    pooled = values.correlation(R)
    within = {c: values.correlation(R, c) for c in values.conditions(R)
              if R.statistics.has_test(pooled.quantity, c)}
    significant = [c for c, r in within.items() if not is_missing(r.p_holm) and r.p_holm < ALPHA]
    if is_missing(pooled.p_holm) or pooled.p_holm >= ALPHA or significant:
        _contradicted("the pooled correlation measures the difference between conditions, not a relation within one",
                      f"pooled rho {values.rho(R)}, Holm p {_p(pooled.p_holm)}; within: "
                      + ", ".join(f"{c} Holm p {_p(r.p_holm)}" for c, r in within.items()),
                      f"the pooled Holm p below {ALPHA} and no within-condition one")


def rank_tests_cannot_reach(R) -> None:
    """'With so few seeds the exact rank tests cannot reach significance': the smallest p of the
    exact Wilcoxon signed-rank test is not below ALPHA."""
    if float(values.wilcoxon_floor(R)) < ALPHA:
        _contradicted("the exact rank tests cannot reach significance",
                      f"with {R.statistics.n_seeds} seeds the signed-rank test reaches p = {values.wilcoxon_floor(R)}",
                      f"a smallest p of at least {ALPHA}")


def some_nonconverged(R) -> None:
    """'... never converged within the cap': at least one run never reached the highest threshold."""
    if not R.statistics.nonconverged:
        _contradicted("some runs never converged", "every run reached the highest threshold on its own task",
                      "at least one run that never converged")


CHECKS = {f.__name__: f for f in (faster, not_significantly_faster, some_censored, headline_epochs_are_jumps,
                                   nothing_retained, reuses, does_not_reuse, subset_of_source, pooled_not_within,
                                   rank_tests_cannot_reach, some_nonconverged)}


class Guards:
    """The guards bound to one build, for inline use at the end of the sentence each guards:
    ``guard.faster("grokked")`` gives "" when the data agree. When they contradict it, a
    ``strict`` one raises ``SentenceContradicted`` (the render fails); a lenient one gives a mark
    with the numbers to put after the sentence, and lists it in ``contradicted``."""

    def __init__(self, results, strict: bool = True):
        self.results, self.strict = results, strict
        self.contradicted: list[str] = []

    def __getattr__(self, name: str):
        if name not in CHECKS:
            raise AttributeError(f"no guard {name!r}; guards: {', '.join(CHECKS)}")
        check = CHECKS[name]

        def guarded(*args, **kwargs) -> str:
            try:
                check(self.results, *args, **kwargs)
            except SentenceContradicted as e:
                if self.strict:
                    raise
                self.contradicted.append(str(e))
                return f" **[contradicted by this build: {e}]**"
            return ""

        guarded.__doc__ = check.__doc__
        return guarded
