"""Retention (protocol item 3) and prediction agreement (item 4): what the study's models
predict, scored against the source task's and the transfer task's targets.

Every input is the token sequence ``[a, b, =]``, whatever the task: addition and
subtraction share the same p^2 inputs and differ only in their targets. So "subtraction
inputs scored against addition targets" (the design document's sanity check) is the same
number as addition accuracy on those pairs. What separates *retained addition* from
*coincidence* is the set of pairs whose two targets are equal: (a + b) = (a - b) mod p iff
2b = 0 mod p, i.e. b = 0 for odd p (b in {0, p/2} for even p). A perfect subtraction model is
right on addition exactly there, so its addition score is the share of such pairs in the
split (``expected_score_of_perfect_subtraction``), which is 1/p over all p^2 pairs but not on
a seed's test split. Retained addition shows only on the pairs where the targets differ.

A model's prediction is the argmax over all d_vocab logits at "=" (as the trainer's
accuracy: predicting "=" counts as wrong).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from grokpaper.analysis import stats
from grokpaper.analysis.inspection import check_analysis_inputs, equals_position_forward
from grokpaper.core.data import all_pairs, check_task, labels, make_split, tokens
from grokpaper.core.model import ModelConfig, init_params
from grokpaper.core.study import SOURCE_SNAPSHOT
from grokpaper.paper import contract
from grokpaper.paper.contract import described, pair_name
from grokpaper.paper.report import SHARE_RANGE, clip_interval

TASK_NOUN = {"add": "addition", "subtract": "subtraction", "multiply": "multiplication",
             "divide": "division", "x2xyy2": "x2xyy2", "random": "random_table"}


# --- the models of the study -----------------------------------------------------------------


@dataclass
class StudyModel:
    """One model of the study with the labels the retention and circuit chapters group by.

    ``model``: ``grokked_source`` / ``memorized_source`` / ``memorized-fixed_source`` (the seed's
    addition models),
    ``random_init`` (the seed's initial weights), or a transfer condition (``grokpaper.core.study.CONDITIONS``:
    the final weights of that transfer run). ``role``: source,
    init or transfer. ``task``: the task it was trained on (the transfer task for
    ``random_init``, whose weights start that run). ``init``: the weights its training started
    from (None for ``random_init``).
    """

    seed: int
    model: str
    role: str
    task: str
    params: dict
    init: dict | None = None


def study_models(study, include_sources: bool = True, include_init: bool = False) -> list[StudyModel]:
    """Every transferred model (final weights) of a ``grokpaper.core.study.Study``, optionally with
    each seed's grokked and memorized source models and its random initial weights."""
    s = study.settings
    out = []
    for seed in s.seeds:
        init = init_params(s.model, torch.Generator().manual_seed(seed))  # = the source's start
        if include_sources:
            for condition in SOURCE_SNAPSHOT:
                out.append(StudyModel(seed, f"{condition}_source", "source", s.source_task,
                                      study.source(seed, condition), init))
        if include_init:
            out.append(StudyModel(seed, "random_init", "init", s.transfer_task, init, None))
    for run in study.transfers():
        start = init if run.condition == "random" else study.source(run.seed, run.condition)
        out.append(StudyModel(run.seed, run.condition, "transfer", s.transfer_task, run.params(), start))
    order = {seed: i for i, seed in enumerate(s.seeds)}
    return sorted(out, key=lambda m: order[m.seed])  # stable: seed, then the order above


# --- predictions and scores ------------------------------------------------------------------


@torch.no_grad()
def predict(params: dict[str, torch.Tensor], cfg: ModelConfig, pairs: np.ndarray) -> np.ndarray:
    """The model's predicted token for each (a, b) pair: argmax of all logits at "=" (int64 array)."""
    check_analysis_inputs(params, cfg)
    logits = equals_position_forward(params, cfg, tokens(np.asarray(pairs), cfg.p))["logits"]
    return logits.argmax(-1).cpu().numpy()


def coincident(pairs: np.ndarray, p: int, task_a: str = "add", task_b: str = "subtract") -> np.ndarray:
    """Boolean mask of the pairs on which the two tasks have the same target."""
    return labels(task_a, pairs, p) == labels(task_b, pairs, p)


def expected_score_of_perfect_transfer(pairs: np.ndarray, p: int, source_task: str = "add",
                                       transfer_task: str = "subtract") -> float:
    """Source-task accuracy of a model that is exactly right on the transfer task: the share of
    pairs whose two targets coincide."""
    pairs = np.asarray(pairs)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or len(pairs) == 0:
        raise ValueError(f"pairs must be a non-empty (n, 2) array, got shape {pairs.shape}")
    return float(coincident(pairs, p, source_task, transfer_task).mean())


def expected_score_of_perfect_subtraction(split, p: int | None = None) -> float:
    """Addition accuracy of a perfect subtraction model on a split's test pairs (a
    ``grokpaper.core.data.Split``) or on an (n, 2) pair array (then give ``p``): the share of
    pairs with 2b = 0 mod p (b = 0 for odd p), e.g. 84 / 8,939 = 0.94 % for a p = 113 split
    with 84 such test pairs; over all p^2 pairs it is 1/p (odd p)."""
    if hasattr(split, "test_pairs"):
        pairs, p = split.test_pairs, split.p
    elif p is None:
        raise ValueError("p is required when split is a pair array (not a grokpaper.core.data.Split)")
    else:
        pairs = split
    return expected_score_of_perfect_transfer(pairs, p, "add", "subtract")


def score_predictions(preds: np.ndarray, pairs: np.ndarray, p: int, source_task: str = "add",
                      transfer_task: str = "subtract") -> dict:
    """Scores of one model's predictions on a set of pairs.

    ``source_acc`` / ``transfer_acc``: accuracy against each task's targets.
    ``coincident_share``: share of pairs whose two targets are equal (= the source score of a
    perfect transfer model). ``source_correct_coincident`` / ``source_correct_distinct``: how
    many pairs the model gets right on the source task where the targets coincide / differ, so
    ``source_acc = (coincident + distinct) / n``. ``source_acc_distinct``: source accuracy on
    the pairs where the targets differ (the retained source task; 0 for a perfect transfer
    model). ``source_excess``: source_acc minus coincident_share.
    """
    preds, pairs = np.asarray(preds), np.asarray(pairs)
    if preds.shape != (len(pairs),):
        raise ValueError(f"preds must have one entry per pair: shape ({len(pairs)},), got {preds.shape}")
    y_source, y_transfer = labels(source_task, pairs, p), labels(transfer_task, pairs, p)
    same = y_source == y_transfer
    right_source, right_transfer = preds == y_source, preds == y_transfer
    n, n_same = len(pairs), int(same.sum())
    n_distinct = n - n_same
    return {
        "n": n,
        "n_coincident": n_same,
        "coincident_share": n_same / n,
        "source_acc": float(right_source.mean()),
        "transfer_acc": float(right_transfer.mean()),
        "source_correct_coincident": int((right_source & same).sum()),
        "source_correct_distinct": int((right_source & ~same).sum()),
        "source_acc_distinct": float((right_source & ~same).sum() / n_distinct) if n_distinct else float("nan"),
        "transfer_acc_coincident": float((right_transfer & same).sum() / n_same) if n_same else float("nan"),
        "source_excess": float(right_source.mean()) - n_same / n,
    }


def seed_test_pairs(p: int, seed: int, frac_train: float, source_task: str, transfer_task: str) -> np.ndarray:
    """The seed's test pairs (the same pair set for both tasks; 'divide' drops b = 0 and would
    give a different set, so it is rejected here)."""
    check_task(source_task, p)
    check_task(transfer_task, p)
    if "divide" in (source_task, transfer_task) and source_task != transfer_task:
        raise ValueError(f"source_task {source_task!r} and transfer_task {transfer_task!r} have different "
                         "pair sets ('divide' has no b = 0), so one test split cannot score both")
    return make_split(source_task, p, seed, frac_train).test_pairs


def retention_table(models: list[StudyModel], cfg: ModelConfig, frac_train: float,
                    source_task: str = "add", transfer_task: str = "subtract") -> pd.DataFrame:
    """One row per model: ``score_predictions`` on its seed's test split (columns ``*_test``) and
    on all p^2 pairs (``*_all``), for the source and the transfer task."""
    rows, pairs_all = [], all_pairs(cfg.p)
    for m in models:
        pairs_test = seed_test_pairs(cfg.p, m.seed, frac_train, source_task, transfer_task)
        preds_all = predict(m.params, cfg, pairs_all)
        # all_pairs is row-major, so pair (a, b) sits at index a * p + b.
        preds_test = preds_all[pairs_test[:, 0] * cfg.p + pairs_test[:, 1]]
        row = {"seed": m.seed, "role": m.role, "model": m.model}
        for where, preds, pairs in (("test", preds_test, pairs_test), ("all", preds_all, pairs_all)):
            row.update({f"{k}_{where}": v for k, v in
                        score_predictions(preds, pairs, cfg.p, source_task, transfer_task).items()})
        rows.append(row)
    return pd.DataFrame(rows)


def perfect_score_table(table: pd.DataFrame, p: int) -> pd.DataFrame:
    """Per seed: test pairs, how many have coinciding targets (b = 0 for add/subtract, odd p),
    the score of a perfect transfer model on the test split (their share) and on all p^2
    pairs, beside the chance level 1/p."""
    per_seed = table.drop_duplicates("seed")
    return pd.DataFrame({
        "seed": per_seed["seed"].to_numpy(),
        "test pairs": per_seed["n_test"].to_numpy(),
        "targets coincide": per_seed["n_coincident_test"].to_numpy(),
        "perfect-model score, test split": per_seed["coincident_share_test"].to_numpy(),
        "perfect-model score, all pairs": per_seed["coincident_share_all"].to_numpy(),
        "chance 1/p": 1 / p,
    })


def readable_table(table: pd.DataFrame, source_task: str = "add", transfer_task: str = "subtract") -> pd.DataFrame:
    """The per-model retention table with readable, task-named column labels (test split unless
    the label says 'all pairs')."""
    src, dst = TASK_NOUN[source_task], TASK_NOUN[transfer_task]
    labels_ = {
        "seed": "seed", "model": "model",
        "transfer_acc_test": f"{dst} acc", "source_acc_test": f"{src} acc",
        "coincident_share_test": f"perfect-{dst} score",
        "source_correct_coincident_test": f"{src} right, targets coincide (n)",
        "source_correct_distinct_test": f"{src} right, targets differ (n)",
        "source_acc_distinct_test": f"{src} acc where targets differ",
        "source_acc_all": f"{src} acc, all pairs", "transfer_acc_all": f"{dst} acc, all pairs",
    }
    return table[list(labels_)].rename(columns=labels_)


def _describe(table: pd.DataFrame, column: str, models, *, confidence: float, n_boot: int) -> dict:
    out = {}
    for m in models:
        rows = table[table["model"] == m]
        out[m] = described(stats.describe(rows[column].tolist(), labels=rows["seed"].tolist(),
                                          allow_censored=False, confidence=confidence, n_boot=n_boot))
    return out


def retention_summary(table: pd.DataFrame, models, columns: dict[str, str], *, confidence: float,
                      n_boot: int) -> pd.DataFrame:
    """Per score and model (e.g. condition): n, mean, sd (ddof 1) and t-CI over seeds, one row
    each; ``columns`` maps a table column to the score's label."""
    rows = []
    for column, label in columns.items():
        for m in models:
            sub = table[table["model"] == m]
            d = stats.describe(sub[column].tolist(), labels=sub["seed"].tolist(), confidence=confidence,
                               allow_censored=False, n_boot=n_boot)
            rows.append({"score": label, "model": m, "n": d.n, "mean": d.mean, "sd": d.sd, **_share_ci(d)})
    return pd.DataFrame(rows)


def values_by_model(table: pd.DataFrame, column: str, models) -> dict[str, list]:
    """{model: that column's values over seeds}, e.g. the dots of a per-seed plot."""
    return {m: table.loc[table["model"] == m, column].tolist() for m in models}


def retention_tests(table: pd.DataFrame, conditions, p: int, confidence: float) -> pd.DataFrame:
    """Per transfer condition, one-sample t-tests of the source-task test accuracy: against the
    chance level 1/p, and against the per-seed score of a perfect transfer model (as a test of
    the per-seed difference accuracy - score against 0, because that score differs between the
    seeds' splits). One row per (condition, test); ``mean`` and the CI are of the tested values."""
    rows = []
    for c in conditions:
        sub = table[table["model"] == c]
        seeds = sub["seed"].tolist()
        for test, values, ref in (
            ("vs_chance", sub["source_acc_test"], 1 / p),
            ("vs_perfect_transfer", sub["source_excess_test"], 0.0),
        ):
            r = stats.one_sample(values.tolist(), ref, name=c, labels=seeds, confidence=confidence)
            rows.append({"condition": c, "test": test, "tested values": TEST_VALUES[test],
                         "reference": ref, **{k: r[k] for k in ("mean", "t", "df", "p", "n", "ci_low", "ci_high", "note")}})
    return pd.DataFrame(rows)


TEST_VALUES = {"vs_chance": "accuracy vs 1/p",
               "vs_perfect_transfer": "accuracy - perfect-model score vs 0"}


def retention_numbers(table: pd.DataFrame, tests: pd.DataFrame, params: dict, conditions) -> contract.Retention:
    """The retention results the article and the claims audit quote. Fields name the tasks by
    their role: ``source`` (addition, the source task) and ``transfer`` (subtraction)."""
    p = params["p"]
    level = {"confidence": params["confidence"], "n_boot": params["n_bootstrap"]}
    transfers = table[table["role"] == "transfer"]
    per_seed = transfers.drop_duplicates("seed").set_index("seed")
    tests_by_condition = {}
    for c, rows in tests.groupby("condition", sort=False):
        by_test = {row["test"]: contract.typed(contract.OneSampleTest, row.drop(["condition", "test"]).to_dict())
                   for _, row in rows.iterrows()}
        tests_by_condition[c] = contract.RetentionTests(vs_chance=by_test["vs_chance"],
                                                        vs_perfect_transfer=by_test["vs_perfect_transfer"])
    sources = table[table["role"] == "source"]
    names = list(pd.unique(sources["model"]))
    return contract.Retention(
        p=p, chance=1 / p, n_models=len(transfers),
        n_test={int(s): int(v) for s, v in per_seed["n_test"].items()},
        n_coincident_test={int(s): int(v) for s, v in per_seed["n_coincident_test"].items()},
        perfect_transfer_score_test={int(s): float(v) for s, v in per_seed["coincident_share_test"].items()},
        perfect_transfer_score_test_summary=_describe(transfers.drop_duplicates("seed").assign(model="all"),
                                                      "coincident_share_test", ["all"], **level)["all"],
        perfect_transfer_score_all=float(per_seed["coincident_share_all"].iloc[0]),
        source_test_acc=_describe(transfers, "source_acc_test", conditions, **level),
        source_all_acc=_describe(transfers, "source_acc_all", conditions, **level),
        transfer_test_acc=_describe(transfers, "transfer_acc_test", conditions, **level),
        transfer_all_acc=_describe(transfers, "transfer_acc_all", conditions, **level),
        source_acc_where_targets_differ=_describe(transfers, "source_acc_distinct_test", conditions, **level),
        source_excess_over_perfect_transfer=_describe(transfers, "source_excess_test", conditions, **level),
        n_source_correct_where_targets_differ=_describe(transfers, "source_correct_distinct_test", conditions, **level),
        n_source_correct_where_targets_coincide=_describe(transfers, "source_correct_coincident_test", conditions, **level),
        n_perfect_transfer={c: int((transfers.loc[transfers["model"] == c, "transfer_acc_test"] == 1).sum())
                            for c in conditions},
        n_source_score_equals_perfect_transfer={
            c: int((transfers.loc[transfers["model"] == c, "source_excess_test"].abs() < 1e-12).sum())
            for c in conditions},
        tests=tests_by_condition,
        sources=contract.SourceScores(
            source_test_acc=_describe(sources, "source_acc_test", names, **level),
            source_all_acc=_describe(sources, "source_acc_all", names, **level),
            transfer_test_acc=_describe(sources, "transfer_acc_test", names, **level)) if len(sources) else None,
        table=table.to_dict(orient="list"),
    )


# --- agreement between models ------------------------------------------------------------------


def agreement(preds_a: np.ndarray, preds_b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Share of inputs (optionally only where ``mask``) on which two models predict the same token."""
    preds_a, preds_b = np.asarray(preds_a), np.asarray(preds_b)
    if preds_a.shape != preds_b.shape or preds_a.ndim != 1:
        raise ValueError(f"predictions must be 1-D arrays of one shape, got {preds_a.shape} and {preds_b.shape}")
    same = preds_a == preds_b
    if mask is not None:
        same = same[np.asarray(mask, dtype=bool)]
    return float(same.mean()) if len(same) else float("nan")


def chance_agreement(preds_a: np.ndarray, preds_b: np.ndarray) -> float:
    """Agreement two models would reach by chance with their prediction frequencies:
    sum_k q_a(k) q_b(k), q = share of inputs predicted k (1/p for two uniform predictors)."""
    a, b = np.asarray(preds_a), np.asarray(preds_b)
    n = max(int(a.max(initial=0)), int(b.max(initial=0))) + 1
    qa, qb = np.bincount(a, minlength=n) / len(a), np.bincount(b, minlength=n) / len(b)
    return float((qa * qb).sum())


def pair_agreement(preds_a: np.ndarray, preds_b: np.ndarray, pairs: np.ndarray, p: int,
                   source_task: str = "add", transfer_task: str = "subtract") -> dict:
    """Agreement of two models on a set of pairs: overall, chance level, and among errors (inputs
    where at least one of the two is wrong) against the transfer task's and the source task's
    targets, with the number of such inputs."""
    out = {"n": len(pairs), "agreement": agreement(preds_a, preds_b),
           "chance_agreement": chance_agreement(preds_a, preds_b)}
    for name, task in (("transfer", transfer_task), ("source", source_task)):
        y = labels(task, pairs, p)
        wrong = (np.asarray(preds_a) != y) | (np.asarray(preds_b) != y)
        out[f"n_{name}_errors"] = int(wrong.sum())
        out[f"agreement_{name}_errors"] = agreement(preds_a, preds_b, wrong)
    return out


def agreement_table(models: list[StudyModel], cfg: ModelConfig, frac_train: float, conditions,
                    source_task: str = "add", transfer_task: str = "subtract") -> pd.DataFrame:
    """Per seed and pair of conditions: ``pair_agreement`` of their final models on the seed's test
    split (``*_test``) and on all p^2 pairs (``*_all``)."""
    rows, pairs_all = [], all_pairs(cfg.p)
    by_key = {(m.seed, m.model): m for m in models}
    for seed in sorted({m.seed for m in models}, key=[m.seed for m in models].index):
        pairs_test = seed_test_pairs(cfg.p, seed, frac_train, source_task, transfer_task)
        test_idx = pairs_test[:, 0] * cfg.p + pairs_test[:, 1]
        preds = {c: predict(by_key[(seed, c)].params, cfg, pairs_all) for c in conditions}
        for a, b in itertools.combinations(conditions, 2):
            row = {"seed": seed, "pair": pair_name(a, b), "model_a": a, "model_b": b}
            for where, idx, pairs in (("test", test_idx, pairs_test), ("all", slice(None), pairs_all)):
                row.update({f"{k}_{where}": v for k, v in pair_agreement(
                    preds[a][idx], preds[b][idx], pairs, cfg.p, source_task, transfer_task).items()})
            rows.append(row)
    return pd.DataFrame(rows)


def agreement_matrix(table: pd.DataFrame, conditions, column: str = "agreement_test") -> pd.DataFrame:
    """Mean over seeds of an agreement column as a symmetric condition x condition frame (1 on
    the diagonal: a model always agrees with itself)."""
    m = pd.DataFrame(np.eye(len(conditions)), index=list(conditions), columns=list(conditions))
    for (a, b), rows in table.groupby(["model_a", "model_b"]):
        m.loc[a, b] = m.loc[b, a] = rows[column].mean()
    return m


def agreement_summary(table: pd.DataFrame, columns: dict[str, str], *, confidence: float,
                      n_boot: int) -> pd.DataFrame:
    """Per pair of conditions and agreement column: n, mean, sd (ddof 1), t-CI over seeds (NaN
    entries, e.g. no errors to agree on, are left out and n says so); ``columns`` maps a
    column to its label."""
    rows = []
    for column, label in columns.items():
        for pair in pd.unique(table["pair"]):
            values = table.loc[(table["pair"] == pair) & table[column].notna(), column].tolist()
            if not values:
                continue
            d = stats.describe(values, confidence=confidence, n_boot=n_boot)
            rows.append({"quantity": label, "pair": pair, "n": d.n, "mean": d.mean, "sd": d.sd, **_share_ci(d)})
    return pd.DataFrame(rows)


def _share_ci(d) -> dict:
    """The t-interval of a share (accuracy, agreement) truncated to 0-1: with a few seeds and
    one run far from the others it otherwise reaches below 0 or above 1."""
    low, high = clip_interval(d.ci_low, d.ci_high, SHARE_RANGE)
    return {"CI low": low, "CI high": high}


def agreement_display(table: pd.DataFrame, source_task: str = "add", transfer_task: str = "subtract") -> pd.DataFrame:
    """The per-seed agreement table with readable, task-named column labels (test split unless marked)."""
    src, dst = TASK_NOUN[source_task], TASK_NOUN[transfer_task]
    labels_ = {
        "seed": "seed", "pair": "pair", "n_test": "inputs", "agreement_test": "agreement",
        "n_transfer_errors_test": f"{dst} errors (n)", "agreement_transfer_errors_test": f"agreement among {dst} errors",
        "n_source_errors_test": f"{src} errors (n)", "agreement_source_errors_test": f"agreement among {src} errors",
        "chance_agreement_test": "chance agreement", "agreement_all": "agreement, all pairs",
    }
    return table[list(labels_)].rename(columns=labels_)


def agreement_numbers(table: pd.DataFrame, conditions, params: dict) -> contract.Agreement:
    """The agreement results the article and the claims audit quote, per pair of conditions
    (keys ``pair_name``: ``grokked_vs_memorized`` ...); errors on the ``source`` task (addition)
    and on the ``transfer`` task (subtraction)."""
    pairs = list(pd.unique(table["pair"]))

    def describe(column):
        out = {}
        for pair in pairs:
            rows = table[(table["pair"] == pair) & table[column].notna()]
            out[pair] = described(stats.describe(rows[column].tolist(), labels=rows["seed"].tolist(),
                                                 confidence=params["confidence"], n_boot=params["n_bootstrap"])
                                  ) if len(rows) else None
        return out

    return contract.Agreement(
        pairs=pairs, n_seeds=int(table["seed"].nunique()),
        agreement_test=describe("agreement_test"), agreement_all=describe("agreement_all"),
        agreement_among_transfer_errors_test=describe("agreement_transfer_errors_test"),
        agreement_among_source_errors_test=describe("agreement_source_errors_test"),
        n_transfer_errors_test=describe("n_transfer_errors_test"),
        n_source_errors_test=describe("n_source_errors_test"),
        chance_agreement_test=describe("chance_agreement_test"),
        n_identical_test={pair: int((table.loc[table["pair"] == pair, "agreement_test"] == 1).sum()) for pair in pairs},
        matrix_test=agreement_matrix(table, conditions, "agreement_test").to_dict(),
        matrix_all=agreement_matrix(table, conditions, "agreement_all").to_dict(),
        table=table.to_dict(orient="list"),
    )
