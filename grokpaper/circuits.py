"""Per-model circuit analysis tables (protocol item 5): the neuron Fourier method and the design
document's stated method side by side, frequency overlap with the seed's grokked source,
weight change from the initial weights, and attention from "=".

Inputs are ``grokpaper.retention.StudyModel`` lists (``retention.study_models``). Every number
here comes from ``grokpaper.fourier`` and ``grokpaper.inspect_model``; this module only runs
them over the study's models and lays the results out one row per model.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from grokpaper import fourier, stats
from grokpaper.inspect_model import attention_from_equals, weight_norms
from grokpaper.model import ModelConfig
from grokpaper.retention import StudyModel

MODEL_ORDER = ("grokked_source", "memorized_source", "memorized-fixed_source", "random_init",
               "grokked", "memorized", "memorized-fixed", "random")
REFERENCE_MODEL = "grokked_source"  # what "overlap with the source" compares against


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


def condition_summary(table: pd.DataFrame, columns, models=MODEL_ORDER, confidence: float = 0.95) -> pd.DataFrame:
    """Per quantity and model kind: n, mean, sd (ddof 1) and t-CI over seeds (missing values,
    e.g. the overlap of the source with itself, are left out of the model kinds that have none)."""
    rows = []
    for q in columns:
        for m in models:
            values = pd.to_numeric(table.loc[table["model"] == m, q], errors="coerce").dropna()
            if not len(values):
                continue
            d = stats.describe(values.tolist(), confidence=confidence, n_boot=100)
            rows.append({"quantity": q, "model": m, "n": d.n, "mean": d.mean, "sd": d.sd,
                         "CI low": d.ci_low, "CI high": d.ci_high})
    return pd.DataFrame(rows)


def describe_by_model(table: pd.DataFrame, column: str, models=MODEL_ORDER) -> dict:
    """``stats.describe(...).as_dict()`` of one column per model kind (seeds as labels)."""
    out = {}
    for m in models:
        rows = table[(table["model"] == m) & table[column].notna()]
        if len(rows):
            out[m] = stats.describe(pd.to_numeric(rows[column]).tolist(), labels=rows["seed"].tolist(),
                                    n_boot=2000).as_dict()
    return out


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


def weight_change_table(models: list[StudyModel]) -> pd.DataFrame:
    """Per model with known initial weights and per parameter: norm, initial norm, change norm
    ||W - W0|| and relative change ||W - W0|| / ||W0|| (NaN where W0 = 0, e.g. zero-initialised
    biases) (``inspect_model.weight_norms``)."""
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


def attention_table(models: list[StudyModel], cfg: ModelConfig, seed: int) -> pd.DataFrame:
    """Mean attention weight from "=" to a, b and "=" over all p^2 inputs, per head, for every
    model of one seed (``inspect_model.attention_from_equals``)."""
    frames = []
    for m in models:
        if m.seed != seed:
            continue
        mean = attention_from_equals(m.params, cfg, m.task).mean.reset_index()
        frames.append(mean.assign(model=m.model)[["model", "head", "a", "b", "="]])
    if not frames:
        raise ValueError(f"no model of seed {seed}")
    return pd.concat(frames, ignore_index=True)


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


def circuit_numbers(neuron: pd.DataFrame, document: pd.DataFrame, weights: pd.DataFrame,
                    attention: pd.DataFrame, params: dict, conditions) -> dict:
    """The circuit results the article and the claims audit quote: per method (``neuron``,
    ``document``) and metric (``METRIC_KEYS`` values), ``stats.describe`` over seeds per model
    kind; top and key frequencies per seed; Welch/Mann-Whitney comparisons of the mean
    fraction (specialization) between transfer conditions; mean weight change per parameter;
    attention from "=" of one seed's models."""
    numbers = {"p": params["p"], "min_neuron_count": params["min_neuron_count"],
               "d_mlp": int(neuron["units"].iloc[0]), "d_model": int(document["units"].iloc[0])}
    for method, table in (("neuron", neuron), ("document", document)):
        numbers[method] = {key: describe_by_model(table, column) for column, key in METRIC_KEYS.items()}
        numbers[method]["top_freq"] = {m: {int(s): (None if pd.isna(f) else int(f)) for s, f in
                                           zip(table.loc[table["model"] == m, "seed"], table.loc[table["model"] == m, "top freq"])}
                                       for m in pd.unique(table["model"])}
        numbers[method]["key_freqs"] = {m: {int(s): [int(k) for k in str(f).split()] for s, f in
                                            zip(table.loc[table["model"] == m, "seed"], table.loc[table["model"] == m, "key freqs"])}
                                        for m in pd.unique(table["model"])}
        groups = {c: pd.to_numeric(table.loc[table["model"] == c, "mean frac"]).tolist() for c in conditions}
        numbers[method]["mean_frac_tests"] = stats.compare_groups(groups).to_dict(orient="records")
    rel = weights.groupby(["model", "param"], sort=False)[["relative_change", "change_norm"]].mean()
    numbers["weight_change"] = {
        m: {"relative": rel.loc[m, "relative_change"].to_dict(), "norm": rel.loc[m, "change_norm"].to_dict(),
            "largest_relative": rel.loc[m, "relative_change"].idxmax(),
            "largest_norm": rel.loc[m, "change_norm"].idxmax()}
        for m in pd.unique(weights["model"])}
    numbers["attention_seed"] = int(params["seeds"][0])
    numbers["attention"] = {m: rows.set_index("head")[["a", "b", "="]].to_dict(orient="index")
                            for m, rows in attention.groupby("model", sort=False)}
    numbers["neuron_table"] = neuron.to_dict(orient="list")
    numbers["document_table"] = document.to_dict(orient="list")
    return numbers
