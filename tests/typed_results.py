"""Made-up typed results for the tests of the article's values and guards: ``blank(kind)`` is a
contract dataclass with every field empty (0, "", None, [], {}), to be filled in with
``dataclasses.replace``; ``study(...)`` is a 5-seed, 4-condition build saying what the paper says."""

import dataclasses
import types
import typing

from grokpaper.analysis import stats
from grokpaper.paper import contract, verdicts
from grokpaper.paper.contract import (
    FIRST,
    REUSE_TEST,
    ROAD_TEST,
    correlation_quantity,
    epochs_column,
    family_test_id,
    metric_key,
)
from grokpaper.paper.inference import WITHIN
from grokpaper.paper.report import Results

CONDITIONS = ("grokked", "memorized", "memorized-fixed", "random")
SEEDS = [42, 7, 99, 314, 123]
TOP = epochs_column(FIRST, 0.999)
PARAMS = {"thresholds": [0.9, 0.999], "transfer_task": "subtract", "p": 113, "seeds": SEEDS, "weight_decay": 1.0,
          "transfer_max_epochs": 30000, "memorized_fixed_epochs": 2000}


def blank(kind):
    """A value of type ``kind`` with nothing in it: a contract dataclass with every field blank."""
    origin = typing.get_origin(kind)
    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        return kind(**{f.name: blank(hints[f.name]) for f in dataclasses.fields(kind)})
    if origin in (typing.Union, types.UnionType):
        return None if type(None) in typing.get_args(kind) else blank(typing.get_args(kind)[0])
    return {dict: {}, list: []}.get(origin) if origin else {int: 0, float: 0.0, str: "", bool: False}.get(kind)


def described(values, labels=SEEDS) -> contract.Described:
    return contract.described(stats.describe(values, labels=labels, n_boot=100, confidence=0.95))


def family_row(test, quantity, a, b=None, estimate=1.0, low=None, high=None, p_holm=0.5, bound=None, effect="ratio",
               n=5, null=1.0) -> contract.FamilyTest:
    """One made-up test of the family (a ``contract.FamilyTest``; its uncorrected p is p_holm / 10).
    Not named ``test_*``: pytest would collect a helper of that name from a test module."""
    return dataclasses.replace(blank(contract.FamilyTest), test=test, quantity=quantity, a=a, b=b, estimate=estimate,
                               ci_low=low, ci_high=high, p=p_holm / 10, p_holm=p_holm, bound=bound, effect=effect,
                               n=n, null=null, confidence=0.95)


def study(p_holm: float = 0.001, ratio: float = 30.0, censored: bool = True, retained: int = 0, reuse_p: float = 1e-20,
          subset: bool = True, within_p: float = 1.0, n_seeds: int = 5, random_matching_p: float | None = None,
          own_ahead: bool = True, rewritten: bool = True, still_improving: bool = True) -> Results:
    """A build whose data say what the paper's sentences say (with the defaults): grokked faster than
    random (``ratio``, Holm ``p_holm``), random seed 314 censored, no retained addition answer
    (``retained`` per run otherwise), the grokked transfers' key frequencies a subset of their
    source's, the pooled correlation significant and none within a condition, each condition's own
    rho negative, the random init no closer to its own seed's source after Holm (``own_ahead``:
    closer before it), attention rewritten from the grokked source (``rewritten``), and the
    censored run's test loss falling from its peak (``still_improving``)."""
    family = {}
    for c, r in (("grokked", ratio), ("memorized", 2.5), ("memorized-fixed", 3.0)):
        row = family_row(family_test_id(TOP, "random", c), TOP, "random", c, r, r / 2, r * 2,
                       p_holm if c == "grokked" else 0.2, bound="lower" if censored else None)
        family[row.test] = row
    correlation = correlation_quantity(TOP)
    for scope, rho, p in (("all runs", -0.9, 1e-5), (WITHIN, -0.4, within_p)):
        row = family_row(family_test_id(correlation, scope), correlation, scope, None, rho, rho - 0.1, rho + 0.1, p,
                         effect="rho", n=20, null=0.0)
        family[row.test] = row
    secondary = {}
    for c in CONDITIONS:   # each condition's own rho: outside the family, no Holm
        row = dataclasses.replace(family_row(family_test_id(correlation, c), correlation, c, None, -0.3, -0.9, 0.6, 0.5,
                                           effect="rho", n=5, null=0.0), p_holm=None)
        secondary[row.test] = row
    for model, p in (("grokked", reuse_p), ("random", 0.9)):
        row = family_row(family_test_id(REUSE_TEST, model), REUSE_TEST, model, None, 21, p_holm=p, effect="shared", null=2.25)
        family[row.test] = row
    if random_matching_p is not None:
        row = family_row(family_test_id(ROAD_TEST, "random"), ROAD_TEST, "random", None, 0.9, p_holm=random_matching_p,
                       effect="difference", null=0.0)
        family[row.test] = row
    without = {t: dataclasses.replace(row, p_holm=0.03 if t.startswith(TOP) else row.p_holm) for t, row in family.items()}
    times = {metric_key(TOP): {metric_key(c): dataclasses.replace(
        blank(contract.TimeToThreshold), restricted_mean=mean, mean_is_a_lower_bound=bound, runs=5)
        for c, mean, bound in (("grokked", 764.0, False), ("memorized", 7000.0, False),
                               ("memorized-fixed", 6000.0, False), ("random", 21846.0, censored))}}
    statistics = dataclasses.replace(
        blank(contract.Statistics), n_seeds=n_seeds, n_runs=20, cap=30000, confidence=0.95, conditions=list(CONDITIONS),
        family=family, family_without_nonconverged=without, family_size=30, secondary=secondary,
        family_parts={"pairwise": 18, "correlation": 2, "frequency": 10}, time_to_threshold=times,
        nonconverged=[contract.NonConverged("random", 314, "never reached 99.9%")] if censored else [])

    never = [(c, s) for c in CONDITIONS for s in SEEDS if censored and (c, s) == ("random", 314)]
    table = {"condition": [c for c in CONDITIONS for _ in SEEDS], "seed": SEEDS * 4,
             TOP: [None if (c, s) in never else 1000.0 for c in CONDITIONS for s in SEEDS],
             "final train acc": [1.0] * 20,
             "final test acc": [0.006 if (c, s) in never else 1.0 for c in CONDITIONS for s in SEEDS],
             "epochs trained": [30000] * 20, "test loss peak at": [2000] * 20, "peak test loss": [34.1] * 20,
             "test acc at loss peak": [0.0007] * 20,
             "final test loss": [25.8 if still_improving else 40.0] * 20}
    jumps = {c: contract.Jump(epoch, 0.3, None) for c, epoch in (("grokked", 5545), ("memorized", 6292), ("random", 26442))}
    transfer = dataclasses.replace(
        blank(contract.Transfer), cap=30000, table=table,
        original_comparison=dataclasses.replace(blank(contract.OriginalComparison), seed42_largest_jumps=jumps))

    retention = dataclasses.replace(
        blank(contract.Retention), n_source_correct_where_targets_differ={
            c: described([retained if c != "random" else 10] * 5) for c in CONDITIONS},
        n_coincident_test={s: 70 + i for i, s in enumerate(SEEDS)},
        perfect_transfer_score_test={s: 0.0078 + 0.0002 * i for i, s in enumerate(SEEDS)})

    seeds = [dataclasses.replace(blank(contract.SeedReuse), seed=s, size=4, reference_size=5, shared=4 if subset else 3)
             for s in SEEDS]
    reuse = dataclasses.replace(blank(contract.FrequencyReuse), model="grokked", seeds=seeds,
                                observed=sum(x.shared for x in seeds), expected=2.25)
    # ``random_matching_p``: the random-init transfers' seed-matching permutation p (None: no such test).
    matching = None if random_matching_p is None else dataclasses.replace(
        blank(contract.SeedMatching), model="random", p=random_matching_p / 10, n_seeds=n_seeds, min_p=0.0083,
        own_mean=4.0 if own_ahead else 2.0, cross_mean=3.0)
    heads = lambda on_one, every, lowest: dataclasses.replace(  # noqa: E731
        blank(contract.AttentionSummary), heads=20, on_one_operand=on_one, on_one_operand_every_input=every,
        smallest_min_weight=lowest, sd_a_lowest=0.05, sd_a_highest=0.25)
    circuits = dataclasses.replace(
        blank(contract.Circuits), p=113, min_neuron_count=5, attention_focus_threshold=0.9,
        frequency_reuse={"grokked": reuse, "random": dataclasses.replace(reuse, model="random", observed=5, expected=3.6,
                                                                          seed_matching=matching)},
        attention_summary={"grokked_source": heads(0, 0, 0.03), "grokked": heads(20, 20 if rewritten else 12, 0.95)},
        weight_change={"grokked": dataclasses.replace(blank(contract.WeightChange), relative={
            "embed.W_E": 0.62, "blocks.0.attn.W_Q": 1.6, "blocks.0.mlp.b_in": 3.0, "blocks.0.mlp.W_in": None})})

    claims = {"speedup-grokked": dataclasses.replace(blank(contract.AuditRow), id="speedup-grokked", paper_section="transfer",
                                                     verdict=verdicts.INCONSISTENT,
                                                     checks=[dataclasses.replace(blank(contract.CheckRow), printed="4.8x")]),
              "epochs-grokked": dataclasses.replace(blank(contract.AuditRow), id="epochs-grokked", paper_section="transfer",
                                                    verdict=verdicts.CONTRADICTED)}
    for c, printed in (("grokked", "5,545"), ("memorized", "6,292"), ("random", "26,442")):
        claims[f"epochs-{c}"] = dataclasses.replace(
            claims.get(f"epochs-{c}", claims["epochs-grokked"]), id=f"epochs-{c}",
            checks=[dataclasses.replace(blank(contract.CheckRow), printed=printed)])
    counts = dataclasses.replace(blank(contract.VerdictCounts), inconsistent=1, contradicted=3, total=4)
    audit_numbers = dataclasses.replace(blank(contract.Audit), claims=claims, counts=counts, profile="paper")
    return Results.of(transfer, retention, circuits, statistics, audit_numbers, params=PARAMS)

