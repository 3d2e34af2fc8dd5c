"""Per-model circuit analysis tables (protocol item 5): the neuron Fourier method and the design
document's stated method side by side, frequency overlap with the seed's grokked source and
how it compares with chance (frequency reuse, seed matching), weight change from the initial
weights, and attention from "=".

Inputs are ``grokpaper.paper.retention.StudyModel`` lists (``retention.study_models``). Every number
here comes from ``grokpaper.analysis.fourier`` and ``grokpaper.analysis.inspection``; this module only runs
them over the study's models and lays the results out one row per model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from grokpaper.analysis import fourier, stats
from grokpaper.analysis.inspection import attention_from_equals, weight_norms
from grokpaper.core.model import ModelConfig
from grokpaper.paper import contract
from grokpaper.paper.report import clip_interval
from grokpaper.paper.retention import StudyModel

MODEL_ORDER = ("grokked_source", "memorized_source", "memorized-fixed_source", "random_init",
               "grokked", "memorized", "memorized-fixed", "random")
REFERENCE_MODEL = "grokked_source"  # what "overlap with the source" compares against
# A head with at least this share of its attention from "=" on one position reads essentially
# that one token (the other two together add at most a tenth); below it on every position, the
# head mixes tokens (e.g. the roughly 0.5 / 0.5 split between a and b of heads that read both).
FOCUSED_ATTENTION = 0.9
ATTENDED = ("a", "b", "=")  # the positions "=" attends to, in token order


@dataclass
class ModelAnalysis:
    """Both frequency analyses of one model."""

    model: StudyModel
    neuron: fourier.NeuronFourierAnalysis
    document: fourier.DocumentMethodSpectrum


def analyse_models(models: list[StudyModel], cfg: ModelConfig, min_neurons: int) -> list[ModelAnalysis]:
    """The neuron Fourier analysis (on the task the model was trained on) and the document's
    method of every model."""
    return [ModelAnalysis(m, fourier.neuron_fourier_analysis(m.params, cfg, m.task, min_neurons=min_neurons),
                          fourier.document_method_spectrum(m.params, cfg, m.task, min_neurons=min_neurons))
            for m in models]


def _top(counts: dict[int, int]) -> tuple[int | None, int]:
    """The frequency held by most units (ties: the lower frequency) and its count."""
    if not counts:
        return None, 0
    k = min(counts, key=lambda f: (-counts[f], f))
    return k, counts[k]


def _method_row(result, reference, min_neurons: int) -> dict:
    s = result.summary
    top, top_n = _top(result.freq_counts())
    row = {
        "units": s["n_units"], "alive": s["n_units"] - s["n_dead"], "dead": s["n_dead"],
        "distinct freqs": s["n_distinct_freqs"], "distinct freqs >= min": s["n_distinct_freqs_min_neurons"],
        "key freqs": " ".join(str(k) for k in result.frequencies(min_neurons)),
        "mean frac": s["mean_frac_explained"], "n > 0.5": s["n_frac_gt_0_5"],
        "share > 0.5": s["n_frac_gt_0_5"] / max(s["n_units"] - s["n_dead"], 1),
        "top freq": top, "top freq units": top_n,
    }
    if reference is None:
        row.update({"shared with source": None, "union with source": None, "jaccard": None, "weighted overlap": None})
    else:
        o = fourier.frequency_overlap(result, reference, min_neurons)
        row.update({"shared with source": o["n_shared"], "union with source": len(set(o["freqs_a"]) | set(o["freqs_b"])),
                    "jaccard": o["jaccard"], "weighted overlap": o["weighted_overlap"]})
    return row


def circuit_tables(analyses: list[ModelAnalysis], min_neurons: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two tables, one row per model: the neuron method (units = MLP neurons) and the document's
    method (units = residual dimensions). Columns: units, alive, dead, distinct frequencies (raw
    and held by >= ``min_neurons`` units), key frequencies (those), mean fraction explained /
    specialization over alive units, units above 0.5, the top frequency (most units) and,
    except for the grokked source itself, the overlap of the key-frequency sets with the seed's
    grokked source under the same method (shared, union, Jaccard) and the unit-weighted overlap
    (``fourier.frequency_overlap``)."""
    sources = {a.model.seed: a for a in analyses if a.model.model == REFERENCE_MODEL}
    out = {"neuron": [], "document": []}
    for a in analyses:
        ref = sources.get(a.model.seed)
        ref = None if ref is None or ref is a else ref
        head = {"seed": a.model.seed, "model": a.model.model, "task": a.model.task}
        out["neuron"].append({**head, **_method_row(a.neuron, ref and ref.neuron, min_neurons)})
        out["document"].append({**head, **_method_row(a.document, ref and ref.document, min_neurons)})
    tables = []
    for rows in (out["neuron"], out["document"]):
        t = pd.DataFrame(rows)
        for column in ("top freq", "shared with source", "union with source"):
            t[column] = pd.array([None if pd.isna(v) else int(v) for v in t[column]], dtype="Int64")
        tables.append(t)
    return tables[0], tables[1]


COMPARED = {"mean frac": "mean fraction explained / specialization",
            "share > 0.5": "share of alive units above 0.5", "n > 0.5": "units above 0.5",
            "distinct freqs": "distinct frequencies", "distinct freqs >= min": "distinct frequencies >= min count",
            "jaccard": "Jaccard overlap with grokked source"}


def method_comparison(neuron: pd.DataFrame, document: pd.DataFrame, models=MODEL_ORDER) -> pd.DataFrame:
    """Per quantity the design document reports and per model kind: the mean over seeds by the
    neuron method (MLP neurons) and by the document's stated method (residual dimensions) side
    by side, then the top frequency of each seed by both methods."""
    rows = []
    for column, label in COMPARED.items():
        for m in models:
            n_rows, d_rows = neuron[neuron["model"] == m], document[document["model"] == m]
            values = pd.to_numeric(n_rows[column], errors="coerce").dropna()
            if not len(values):
                continue
            rows.append({"quantity": label, "model": m, "n": len(values),
                         "neuron method": values.mean(),
                         "document's method": pd.to_numeric(d_rows[column], errors="coerce").mean()})
    for m in models:
        n_rows, d_rows = neuron[neuron["model"] == m], document[document["model"] == m]
        if len(n_rows):
            rows.append({"quantity": "top frequency per seed", "model": m, "n": len(n_rows),
                         "neuron method": " ".join(str(v) for v in n_rows["top freq"]),
                         "document's method": " ".join(str(v) for v in d_rows["top freq"])})
    return pd.DataFrame(rows)


def column_range(table: pd.DataFrame, column: str) -> tuple[float, float]:
    """The possible range of a circuit-table column: shares in [0, 1], counts of units in
    [0, units], counts of frequencies at least 0 (a t-interval of a few seeds can leave it)."""
    if column in ("mean frac", "share > 0.5", "jaccard", "weighted overlap"):
        return 0.0, 1.0
    if column in ("n > 0.5", "alive", "dead", "top freq units"):
        return 0.0, float(table["units"].max())
    return 0.0, math.inf


def summary_by_model(table: pd.DataFrame, columns, models=MODEL_ORDER, *, confidence: float,
                     n_boot: int) -> pd.DataFrame:
    """Per quantity and model kind: n, mean, sd (ddof 1) and t-CI over seeds, truncated to the
    quantity's range (``column_range``); missing values, e.g. the overlap of the source with
    itself, are left out of the model kinds that have none."""
    rows = []
    for q in columns:
        for m in models:
            values = pd.to_numeric(table.loc[table["model"] == m, q], errors="coerce").dropna()
            if not len(values):
                continue
            d = stats.describe(values.tolist(), confidence=confidence, n_boot=n_boot)
            low, high = clip_interval(d.ci_low, d.ci_high, column_range(table, q))
            rows.append({"quantity": q, "model": m, "n": d.n, "mean": d.mean, "sd": d.sd,
                         "CI low": low, "CI high": high})
    return pd.DataFrame(rows)


def describe_by_model(table: pd.DataFrame, column: str, models=MODEL_ORDER, *, confidence: float,
                      n_boot: int) -> dict:
    """``stats.describe(...).as_dict()`` of one column per model kind (seeds as labels)."""
    out = {}
    for m in models:
        rows = table[(table["model"] == m) & table[column].notna()]
        if len(rows):
            out[m] = contract.described(stats.describe(pd.to_numeric(rows[column]).tolist(),
                                                       labels=rows["seed"].tolist(), confidence=confidence,
                                                       n_boot=n_boot))
    return out


STARTS = {"grokked": "grokked_source", "memorized": "memorized_source", "memorized-fixed": "memorized-fixed_source",
          "random": "random_init"}  # each transfer condition and the model it started from


def start_beside_transfer(by_model: dict) -> dict:
    """``by_model`` reordered so that each starting point is followed by the model transferred
    from it (grokked_source, grokked, memorized_source, memorized, ...): a two-column grid then
    shows each pair side by side. Models not in a pair keep their order at the end."""
    order = [m for c, start in STARTS.items() for m in (start, c) if m in by_model]
    return {m: by_model[m] for m in order + [m for m in by_model if m not in order]}


def pooled(analyses: list[ModelAnalysis], what: str = "freq_counts", seed: int | None = None) -> dict:
    """Per model kind (in ``MODEL_ORDER``), the neuron method's best-frequency counts summed over
    seeds (``what="freq_counts"``) or the alive neurons' fractions explained concatenated
    (``what="fractions"``); ``seed`` keeps one seed only."""
    if what not in ("freq_counts", "fractions"):
        raise ValueError(f"what must be 'freq_counts' or 'fractions', got {what!r}")
    out = {}
    for m in MODEL_ORDER:
        chosen = [a for a in analyses if a.model.model == m and (seed is None or a.model.seed == seed)]
        if not chosen:
            continue
        if what == "freq_counts":
            counts: dict[int, int] = {}
            for a in chosen:
                for k, c in a.neuron.freq_counts().items():
                    counts[k] = counts.get(k, 0) + c
            out[m] = counts
        else:
            out[m] = pd.concat([a.neuron.neurons.loc[~a.neuron.neurons["dead"], "frac_explained"]
                                for a in chosen]).to_numpy()
    return out


# --- frequency reuse against chance --------------------------------------------------------------


def key_frequency_sets(neuron_table, model: str) -> dict[int, set[int]]:
    """{seed: key frequencies} of one model kind, read from a neuron table's ``key freqs``
    column (``circuit_tables``, or its dict-of-lists copy in ``results/05-circuits.json``)."""
    table = pd.DataFrame(neuron_table)
    missing = {"seed", "model", "key freqs"} - set(table.columns)
    if missing:
        raise ValueError(f"neuron_table lacks the columns {sorted(missing)}")
    rows = table[table["model"] == model]
    if not len(rows):
        raise ValueError(f"model {model!r} is not in neuron_table; it has {list(pd.unique(table['model']))}")
    # An empty key set is stored as "" (and may come back from JSON as None).
    return {int(seed): {int(k) for k in ("" if stats.is_missing(keys) else str(keys)).split()}
            for seed, keys in zip(rows["seed"], rows["key freqs"])}


def _paired_key_sets(neuron_table, model: str, reference: str) -> tuple[list[int], dict, dict]:
    """The seeds that have both model kinds (in the table's order) and both kinds' key sets."""
    if model == reference:
        raise ValueError(f"model and reference must differ, both are {model!r}")
    model_sets, reference_sets = key_frequency_sets(neuron_table, model), key_frequency_sets(neuron_table, reference)
    seeds = [seed for seed in model_sets if seed in reference_sets]
    if not seeds:
        raise ValueError(f"no seed has both {model!r} (seeds {sorted(model_sets)}) and {reference!r} "
                         f"(seeds {sorted(reference_sets)})")
    return seeds, model_sets, reference_sets


def frequency_reuse(neuron_table, model: str, reference: str = REFERENCE_MODEL, *, n_candidates: int) -> dict:
    """How many of ``model``'s key frequencies are also its own seed's ``reference``'s, against
    chance: per seed the hypergeometric null of a random set of the same size among the
    ``n_candidates`` candidate frequencies (``fourier.overlap_null``), over seeds the exact
    p = P(total shared >= observed) of the sum of the seeds' independent overlaps.

    Returns ``model``, ``reference``, ``n_candidates``, ``seeds`` (one row per seed: seed,
    size, reference size, shared, expected, p), ``observed``, ``expected``, ``p`` and
    ``summary`` (one readable table row).
    """
    n_candidates = fourier.check_count("n_candidates", n_candidates, 1)
    seeds, model_sets, reference_sets = _paired_key_sets(neuron_table, model, reference)
    outside = sorted({k for sets in (model_sets, reference_sets) for s in seeds for k in sets[s]
                      if not 1 <= k <= n_candidates})
    if outside:
        raise ValueError(f"key frequencies {outside} lie outside the candidates 1..{n_candidates} "
                         f"(n_candidates = p // 2)")
    rows, pmfs = [], []
    for seed in seeds:
        own, ref = model_sets[seed], reference_sets[seed]
        null = fourier.overlap_null(n_candidates, len(own), len(ref))
        shared = len(own & ref)
        rows.append({"seed": seed, "size": len(own), "reference size": len(ref), "shared": shared,
                     "expected": null["mean"], "p": float(min(1.0, null["pmf"][shared:].sum()))})
        pmfs.append(null["pmf"])
    observed = sum(r["shared"] for r in rows)
    expected = sum(r["expected"] for r in rows)
    p = fourier.overlap_sum_pvalue(pmfs, observed)
    summary = {"model": model, "reference": reference, "seeds": len(seeds),
               "key freqs": sum(r["size"] for r in rows), "shared": observed, "expected shared": expected, "p": p}
    return {"model": model, "reference": reference, "n_candidates": n_candidates, "seeds": rows,
            "observed": observed, "expected": expected, "p": p, "summary": summary}


def seed_matching(neuron_table, model: str, reference: str = REFERENCE_MODEL) -> dict:
    """Whether ``model``'s key frequencies share more with its OWN seed's ``reference`` than with
    other seeds' references: the total shared count over seeds under the own-seed matching,
    tested exactly against every matching of seeds (``fourier.matching_permutation_test``).

    Returns ``model``, ``reference``, ``seeds``, ``shared`` (rows: the model's seeds, columns:
    the references' seeds) and the test's ``observed``, ``n_seeds``, ``n_permutations``, ``p``,
    ``min_p`` (1/n!), ``own_mean`` and ``cross_mean`` (mean shared count, own vs other seeds).
    """
    seeds, model_sets, reference_sets = _paired_key_sets(neuron_table, model, reference)
    if len(seeds) < 2:
        raise ValueError(f"seed matching needs at least 2 seeds with both {model!r} and {reference!r}, "
                         f"got {seeds}")
    shared = [[len(model_sets[i] & reference_sets[j]) for j in seeds] for i in seeds]
    test = fourier.matching_permutation_test(np.array(shared, dtype=np.int64))
    return {"model": model, "reference": reference, "seeds": seeds, "shared": shared, **test}


def frequency_reuse_by_model(neuron_table, n_candidates: int, models=None,
                             reference: str = REFERENCE_MODEL) -> dict:
    """{model: ``frequency_reuse`` with its ``seed_matching`` under the key ``seed_matching``
    (None with fewer than 2 seeds)} for each model kind; ``models`` None: every kind in the table
    other than the reference, in ``MODEL_ORDER``."""
    if models is None:
        present = set(pd.DataFrame(neuron_table)["model"])
        models = [m for m in MODEL_ORDER if m in present and m != reference]
    out = {}
    for m in models:
        reuse = frequency_reuse(neuron_table, m, reference, n_candidates=n_candidates)
        matching = seed_matching(neuron_table, m, reference) if len(reuse["seeds"]) >= 2 else None
        out[m] = {**reuse, "seed_matching": matching}
    return out


def frequency_reuse_table(by_model: dict) -> pd.DataFrame:
    """One row per compared model (``frequency_reuse_by_model``): key frequencies and shared
    ones summed over seeds, the shared count expected by chance and its hypergeometric p, the
    mean shared count with the own seed's and with other seeds' references, and the permutation
    p of the seed matching with the smallest p it can give (1/n!)."""
    rows = []
    for reuse in by_model.values():
        matching = reuse["seed_matching"] or {}
        rows.append({**reuse["summary"],
                     "own-seed mean shared": matching.get("own_mean"),
                     "cross-seed mean shared": matching.get("cross_mean"),
                     "permutation p": matching.get("p"), "smallest permutation p": matching.get("min_p")})
    return pd.DataFrame(rows).rename(columns={"shared": "observed shared", "p": "p (hypergeometric)"})


def weight_change_table(models: list[StudyModel]) -> pd.DataFrame:
    """Per model with known initial weights and per parameter: norm, initial norm, change norm
    ||W - W0|| and relative change ||W - W0|| / ||W0|| (NaN where W0 = 0, e.g. zero-initialised
    biases) (``inspection.weight_norms``)."""
    frames = []
    for m in models:
        if m.init is None:
            continue
        t = weight_norms(m.params, m.init).reset_index()
        frames.append(t.assign(seed=m.seed, model=m.model)[
            ["seed", "model", "param", "numel", "init_norm", "norm", "change_norm", "relative_change"]])
    if not frames:
        raise ValueError("no model has initial weights (StudyModel.init): nothing to compare")
    return pd.concat(frames, ignore_index=True)


def weight_change_summary(table: pd.DataFrame, models) -> pd.DataFrame:
    """Mean over seeds of the change norm and relative change, one row per parameter, one column
    pair per model kind; parameters in the model's order."""
    params = list(pd.unique(table["param"]))
    out = pd.DataFrame({"param": params})
    for m in models:
        sub = table[table["model"] == m].groupby("param", sort=False)
        out[f"{m} change"] = sub["change_norm"].mean().reindex(params).to_numpy()
        out[f"{m} relative"] = sub["relative_change"].mean().reindex(params).to_numpy()
    return out


def attention_table(models: list[StudyModel], cfg: ModelConfig, seeds=None) -> pd.DataFrame:
    """Mean attention weight from "=" to a, b and "=" over all p^2 inputs, per head, for every
    model of the given seeds (None: all) (``inspection.attention_from_equals``), its sd over the
    inputs (``sd a`` ...: how much the weight depends on the input), the position each head
    attends to most, its mean weight and its smallest weight over the inputs (``min weight``)."""
    if isinstance(seeds, (int, np.integer)):
        seeds = [seeds]
    chosen = [m for m in models if seeds is None or m.seed in set(seeds)]
    missing = sorted(set(seeds or ()) - {m.seed for m in models})
    if missing or not chosen:
        raise ValueError(f"no model of seed {missing or list(seeds or ())}; seeds: {sorted({m.seed for m in models})}")
    frames = []
    for m in chosen:
        summary = attention_from_equals(m.params, cfg, m.task)
        head = summary.mean.reset_index().assign(seed=m.seed, model=m.model)
        maps = summary.maps.reshape(summary.maps.shape[0], len(ATTENDED), -1)   # (heads, positions, inputs)
        for j, position in enumerate(ATTENDED):
            head[f"sd {position}"] = maps[:, j].std(axis=1)
        most = head[list(ATTENDED)].to_numpy().argmax(axis=1)
        head["min weight"] = [float(maps[h, most[h]].min()) for h in range(len(head))]
        frames.append(head[["seed", "model", "head", *ATTENDED, *(f"sd {p}" for p in ATTENDED), "min weight"]])
    table = pd.concat(frames, ignore_index=True)
    weights = table[list(ATTENDED)]
    table["most attended"] = weights.idxmax(axis=1)
    table["weight"] = weights.max(axis=1)
    return table


def _focus(row) -> str:
    """Where a head puts at least ``FOCUSED_ATTENTION`` of its attention: "a", "b", "=" or "spread"."""
    return row["most attended"] if row["weight"] >= FOCUSED_ATTENTION else "spread"


def attention_summary(table: pd.DataFrame, models=MODEL_ORDER) -> pd.DataFrame:
    """Per model kind, over all its seeds' heads (heads are not aligned across seeds, so they are
    counted, not matched): heads with at least ``FOCUSED_ATTENTION`` of their attention from "="
    on a, on b, on "=", or on none (spread); heads with at least that weight on one operand for
    every single input; the mean attention to a, b and "="; and the range over heads of the
    per-input sd of the weight on a (how much a head's attention depends on the input)."""
    need = {"seed", "model", "head", "most attended", "weight", "min weight", *ATTENDED,
            *(f"sd {p}" for p in ATTENDED)}
    if not isinstance(table, pd.DataFrame) or not need <= set(table.columns):
        raise ValueError(f"table must be an attention_table DataFrame with columns {sorted(need)}")
    rows = []
    for m in models:
        heads = table[table["model"] == m]
        if not len(heads):
            continue
        focus = heads.apply(_focus, axis=1).value_counts()
        rows.append({"model": m, "seeds": heads["seed"].nunique(), "heads": len(heads),
                     "on a": int(focus.get("a", 0)), "on b": int(focus.get("b", 0)),
                     "on =": int(focus.get("=", 0)), "spread": int(focus.get("spread", 0)),
                     "mean a": heads["a"].mean(), "mean b": heads["b"].mean(), "mean =": heads["="].mean(),
                     "on one operand for every input": int(((heads["min weight"] >= FOCUSED_ATTENTION)
                                                            & heads["most attended"].isin(["a", "b"])).sum()),
                     "smallest min weight": heads["min weight"].min(),
                     "sd a, lowest": heads["sd a"].min(), "sd a, highest": heads["sd a"].max()})
    if not rows:
        raise ValueError(f"none of the models {list(models)} is in the table")
    return pd.DataFrame(rows)


def attention_by_head(table: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """One row per seed and model, one column per head holding its mean attention from "=" to
    a / b / "=" as text (``digits`` decimals): a compact view of ``attention_table``."""
    text = table.assign(weights=[" / ".join(f"{row[p]:.{digits}f}" for p in ATTENDED) for _, row in table.iterrows()])
    wide = text.pivot(index=["seed", "model"], columns="head", values="weights")
    wide.columns = [f"head {h}" for h in wide.columns]
    order = {m: i for i, m in enumerate(MODEL_ORDER)}
    seeds = {s: i for i, s in enumerate(pd.unique(table["seed"]))}
    wide = wide.reset_index()
    return wide.sort_values(["seed", "model"], key=lambda c: c.map(seeds if c.name == "seed" else order),
                            ignore_index=True)


def alive_neurons(analyses: list[ModelAnalysis], seed: int) -> dict[str, int]:
    """{model kind: alive MLP neurons} for one seed's models."""
    return {a.model.model: a.neuron.n_alive for a in analyses if a.model.seed == seed}


METRIC_KEYS = {
    "alive": "alive", "dead": "dead", "distinct freqs": "distinct_freqs",
    "distinct freqs >= min": "distinct_freqs_min_count", "mean frac": "mean_frac", "n > 0.5": "n_gt_0_5",
    "share > 0.5": "share_gt_0_5", "shared with source": "n_shared_with_source",
    "union with source": "n_union_with_source", "jaccard": "jaccard_with_source",
    "weighted overlap": "weighted_overlap_with_source",
}

ATTENTION_SUMMARY_KEYS = {"seeds": "seeds", "heads": "heads", "on a": "on_a", "on b": "on_b", "on =": "on_equals",
                          "spread": "spread", "mean a": "mean_a", "mean b": "mean_b", "mean =": "mean_equals",
                          "on one operand for every input": "on_one_operand_every_input",
                          "smallest min weight": "smallest_min_weight", "sd a, lowest": "sd_a_lowest",
                          "sd a, highest": "sd_a_highest"}


def circuit_numbers(neuron: pd.DataFrame, document: pd.DataFrame, weights: pd.DataFrame,
                    attention: pd.DataFrame, params: dict, conditions) -> contract.Circuits:
    """The circuit results the article and the claims audit quote: per method (``neuron``,
    ``document``) and metric (``METRIC_KEYS`` values), ``stats.describe`` over seeds per model
    kind; top and key frequencies per seed; Welch/Mann-Whitney comparisons of the mean
    fraction (specialization) between transfer conditions; mean weight change per parameter;
    frequency reuse against chance and seed matching per model kind (``frequency_reuse_by_model``,
    neuron method); attention from "=" of every model (per model kind, seed and head) and its
    summary per model kind (``attention_summary``)."""
    def method(table):
        groups = {c: pd.to_numeric(table.loc[table["model"] == c, "mean frac"]).tolist() for c in conditions}
        return contract.CircuitMethod(
            **{key: describe_by_model(table, column, confidence=params["confidence"], n_boot=params["n_bootstrap"])
               for column, key in METRIC_KEYS.items()},
            top_freq={m: {int(s): (None if pd.isna(f) else int(f)) for s, f in
                          zip(table.loc[table["model"] == m, "seed"], table.loc[table["model"] == m, "top freq"])}
                      for m in pd.unique(table["model"])},
            key_freqs={m: {seed: sorted(keys) for seed, keys in key_frequency_sets(table, m).items()}
                       for m in pd.unique(table["model"])},
            mean_frac_tests=[contract.typed(contract.GroupComparison, row)
                             for row in stats.compare_groups(groups).to_dict(orient="records")],
        )

    rel = weights.groupby(["model", "param"], sort=False)[["relative_change", "change_norm"]].mean()
    summary = attention_summary(attention).set_index("model").rename(columns=ATTENTION_SUMMARY_KEYS)
    summary["on_one_operand"] = summary["on_a"] + summary["on_b"]
    reuse = frequency_reuse_by_model(neuron, n_candidates=len(fourier.candidate_frequencies(params["p"])))
    return contract.Circuits(
        p=params["p"], min_neuron_count=params["min_neuron_count"],
        d_mlp=int(neuron["units"].iloc[0]), d_model=int(document["units"].iloc[0]),
        neuron=method(neuron), document=method(document),
        weight_change={
            m: contract.typed(contract.WeightChange, {
                "relative": rel.loc[m, "relative_change"].to_dict(), "norm": rel.loc[m, "change_norm"].to_dict(),
                "largest_relative": rel.loc[m, "relative_change"].idxmax(),
                "largest_norm": rel.loc[m, "change_norm"].idxmax()})
            for m in pd.unique(weights["model"])},
        frequency_reuse={m: contract.typed(contract.FrequencyReuse, r) for m, r in reuse.items()},
        attention={m: {int(seed): heads.set_index("head")[list(ATTENDED)].to_dict(orient="index")
                       for seed, heads in rows.groupby("seed", sort=False)}
                   for m, rows in attention.groupby("model", sort=False)},
        attention_focus_threshold=FOCUSED_ATTENTION,
        attention_summary={m: contract.typed(contract.AttentionSummary, row)
                           for m, row in summary.to_dict(orient="index").items()},
        neuron_table=neuron.to_dict(orient="list"),
        document_table=document.to_dict(orient="list"),
    )
