"""Survival benchmark: oncoplan's deep survival model against CoxPH, RSF and pycox peers on identical folds.

One command runs every (cohort, model) pair with 5-fold CV (seed 0, folds stratified on event), each pair in
a fresh process (so peak memory is that model's), and prints and writes per (cohort, model): Antolini's C-td
(mean, sd), Harrell's C, the integrated Brier score, 5-fold fit time and peak resident memory, plus each
model's mean rank on C-td. Preprocessing (imputation, scaling, one-hot) is fitted on each training fold.

    python benchmarks/survival.py                       # everything (about 30-40 min on 2 CPU cores)
    python benchmarks/survival.py --quick               # smoke run: 2 cohorts, small models
    python benchmarks/survival.py --cohorts GBSG2,whas --models oncoplan,rsf

pycox peers run when ``pip install --no-deps pycox torchtuples`` is importable (see survival_peers.py);
otherwise oncoplan re-implementations with pycox's settings run, labelled "(re-implementation)".
Results: ``benchmarks/results/survival.csv`` (one row per fold), ``survival_summary.csv`` and ``survival.md``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import json
import logging
import multiprocessing as mp
import platform
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parent))

COHORTS = {
    "GBSG2": "survset:GBSG2",
    "colon": "survset:colon",
    "rott2": "survset:rott2",
    "support2": "survset:support2",
    "DLBCL": "survset:DLBCL",
    "metabric": "deepsurv:metabric",
    "gbsg": "deepsurv:gbsg",
    "whas": "deepsurv:whas",
    "support": "deepsurv:support",
}
#: further cohorts, run only when named (``--cohorts extra`` runs them all): high-dimensional gene-expression
#: cohorts from SurvSet that no default was chosen on, and WHAS without its repeated rows
EXTRA_COHORTS = {
    "whas-dedup": "deepsurv:whas",
    "DBCD": "survset:DBCD",
    "chop": "survset:chop",
    "AML_Bull": "survset:AML_Bull",
    "gse3143": "survset:gse3143",
    "NSBCD": "survset:NSBCD",
    "gse4335": "survset:gse4335",
    "vdv": "survset:vdv",
    "nki70": "survset:nki70",
}
#: cohorts whose repeated rows (same covariates, time and event) are dropped before the folds are made
DEDUPLICATED = {"whas-dedup"}
QUICK_COHORTS = ["GBSG2", "whas"]
RANKED = ["oncoplan", "coxph", "rsf", "deepsurv", "logistic_hazard"]
DEFAULT_MODELS = [*RANKED, "oncoplan-stack"]
ALL_MODELS = [*DEFAULT_MODELS, "oncoplan-cox", "oncoplan-nolinear", "oncoplan-ple", "gbsa"]
RSF_LARGE_N = 5000
MAX_LEVELS = 20


#: the first deep survival model (issue 2): one MLP (32x32, batch norm, dropout 0.1) trained with the Cox
#: partial likelihood (Breslow ties), Breslow baseline, AdamW lr 1e-3 / weight decay 1e-4, batch 256, early
#: stopping (patience 20) on a 15% validation split; no ensemble, no linear path, no screening
ISSUE2_DEEP_COX = {
    "head": "cox",
    "hidden": (32, 32),
    "dropout": 0.1,
    "norm": "batch",
    "linear_skip": False,
    "linear_init": False,
    "lr": 1e-3,
    "weight_decay": 1e-4,
    "batch_size": 256,
    "max_epochs": 200,
    "patience": 20,
    "validation_fraction": 0.15,
    "n_ensemble": 1,
    "max_features": None,
}


# ---------------------------------------------------------------------------------------------- models
def make_model(name: str, n: int, d: int, quick: bool, seed: int = 0):
    """The estimator for ``name`` (scored via :func:`survival_on_grid`) and its display label."""
    from oncoplan.models.baselines import CoxnetBaseline, CoxPHBaseline, GBSABaseline, RSFBaseline
    from oncoplan.models.survival import DeepSurvival
    from survival_peers import PycoxModel, pycox_available, reimplementation

    small = {"max_epochs": 30, "n_ensemble": 2} if quick else {}
    high_dim = d > 100 and d > n // 2
    if name == "oncoplan":
        return DeepSurvival(random_state=seed, **small), "oncoplan DeepSurvival (default)"
    if name == "oncoplan-cox":
        return DeepSurvival(**ISSUE2_DEEP_COX, random_state=seed, **small), "oncoplan deep Cox MLP (issue 2)"
    if name == "oncoplan-ple":
        model = DeepSurvival(numeric_embedding="ple", random_state=seed, **small)
        return model, "oncoplan, piecewise-linear input encoding"
    if name == "oncoplan-nolinear":
        model = DeepSurvival(linear_init=False, linear_skip=False, random_state=seed, **small)
        return model, "oncoplan, no linear path"
    if name == "oncoplan-stack":
        from oncoplan.models.ensemble import StackedSurvival

        return StackedSurvival(random_state=seed, quick=quick), "oncoplan stacked (deep+CoxPH+RSF+GBSA)"
    if name == "coxph":
        if high_dim:
            return CoxnetBaseline(random_state=seed), "sksurv Coxnet"
        return CoxPHBaseline(), "sksurv CoxPH"
    if name == "rsf":
        # 200 trees with leaves of 3 need > 10 GB on ~7,000 training rows (support2 / support): larger
        # leaves there keep it within this 23 GB machine
        leaf = 3 if n <= RSF_LARGE_N else 15
        label = "sksurv RSF" if leaf == 3 else "sksurv RSF (min_samples_leaf=15)"
        return RSFBaseline(n_estimators=50 if quick else 200, min_samples_leaf=leaf, random_state=seed), label
    if name == "gbsa":
        return GBSABaseline(random_state=seed), "sksurv GBSA"
    if name in ("deepsurv", "logistic_hazard"):
        label = "pycox DeepSurv" if name == "deepsurv" else "pycox LogisticHazard"
        if pycox_available():
            return PycoxModel(name, seed=seed), label
        return reimplementation(name, seed), f"{label} (re-implementation)"
    raise SystemExit(f"unknown model {name!r}; choose from {', '.join(ALL_MODELS)}")


def survival_on_grid(model, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(survival (n, k), grid (k,)) of any benchmark model."""
    if hasattr(model, "survival"):
        return model.survival(X)
    return model.predict_survival_function(X, return_array=True), np.asarray(model.unique_times_)


# ---------------------------------------------------------------------------------------------- one task
def _fold_metrics(model, data, k: int) -> dict:
    from oncoplan.evaluate.survival import antolini_c, evaluation_times, harrell_c, integrated_brier_score

    tr_e, tr_t = data[f"train_event{k}"], data[f"train_time{k}"]
    te_e, te_t = data[f"test_event{k}"], data[f"test_time{k}"]
    X_test = data[f"X_test{k}"]
    surv, grid = survival_on_grid(model, X_test)
    eval_times = evaluation_times(tr_t, te_t, te_e, n=50)
    # IPCW weights need test times inside the training follow-up: a test patient followed beyond the
    # last training time is censored there (the IBS grid ends before it anyway)
    beyond = te_t >= tr_t.max()
    ibs_t = np.where(beyond, np.nextafter(tr_t.max(), -np.inf), te_t)
    ibs_e = te_e & ~beyond
    return {
        "c_td": antolini_c(te_e, te_t, surv, grid),
        "harrell_c": harrell_c(te_e, te_t, model.predict(X_test)),
        "ibs": integrated_brier_score(tr_e, tr_t, ibs_e, ibs_t, surv, eval_times, curve_times=grid),
    }


def run_task(cohort: str, model_name: str, npz: str, quick: bool, seed: int) -> list[dict]:
    """Fit and score ``model_name`` on every fold stored in ``npz`` (runs in a fresh process)."""
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    from sksurv.util import Surv

    data = np.load(npz)
    rows = []
    for k in range(int(data["n_folds"])):
        X_train = data[f"X_train{k}"]
        y_train = Surv.from_arrays(data[f"train_event{k}"], data[f"train_time{k}"])
        model, label = make_model(model_name, *X_train.shape, quick=quick, seed=seed)
        start = time.perf_counter()
        model.fit(X_train, y_train)
        fit_s = time.perf_counter() - start
        rows.append(
            {
                "cohort": cohort,
                "model": model_name,
                "label": label,
                "fold": k,
                "fit_s": fit_s,
                "capacity": getattr(model, "capacity_", ""),  # DeepSurvival's capacity decision
                **_fold_metrics(model, data, k),
            }
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    for row in rows:
        row["peak_mb"] = peak_mb
    return rows


def drop_repeated_rows(cohort):
    """The cohort without rows that repeat an earlier row's covariates, time and event.

    deepsurv:whas holds 1,638 rows but only 735 distinct (covariates, time, event) tuples: with random folds
    ~73% of test rows have an exact copy in the training rows, which rewards memorising models.
    """
    keep = np.flatnonzero(~cohort.repeated_rows())
    print(
        f"   {cohort.name}: {cohort.n_patients - len(keep)} repeated rows dropped, {len(keep)} kept",
        flush=True,
    )
    return cohort.subset(keep)


def prepare_folds(name: str, folds: int, seed: int, out: Path) -> tuple[Path, int, int]:
    """Load a cohort, make stratified folds, preprocess each on its training rows; save arrays to ``out``."""
    from oncoplan.data import load_cohort
    from oncoplan.preprocess.tabular import TabularPreprocessor

    cohort = load_cohort({**COHORTS, **EXTRA_COHORTS}[name])
    if name in DEDUPLICATED:
        cohort = drop_repeated_rows(cohort)
    numeric, categorical = cohort.feature_types(include_treatment=True)
    frame = cohort.features(include_treatment=True)
    # a "categorical" column with dozens of levels is a mislabelled measurement (deepsurv:whas's column
    # names do not match its values: 'sex' has 65 levels, 'chf' 470); use it as numeric, as DeepSurv/pycox do
    many = [c for c in categorical if frame[c].nunique() > MAX_LEVELS]
    if many:
        print(f"   {name}: {many} have > {MAX_LEVELS} levels: used as numeric", flush=True)
        numeric, categorical = numeric + many, [c for c in categorical if c not in many]
    event, time_ = np.asarray(cohort.event, dtype=bool), np.asarray(cohort.time, dtype=float)
    arrays: dict[str, np.ndarray] = {"n_folds": np.array(folds)}
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    width = 0
    for k, (tr, te) in enumerate(splitter.split(frame, event.astype(int))):
        pre = TabularPreprocessor(numeric, categorical, strict=False).fit(frame.iloc[tr])
        arrays[f"X_train{k}"] = pre.transform(frame.iloc[tr])
        arrays[f"X_test{k}"] = pre.transform(frame.iloc[te])
        width = arrays[f"X_train{k}"].shape[1]
        for part, rows in (("train", tr), ("test", te)):
            arrays[f"{part}_event{k}"] = event[rows]
            arrays[f"{part}_time{k}"] = time_[rows]
    path = out / f"{name}.npz"
    np.savez(path, **arrays)
    return path, cohort.n_patients, width


# ---------------------------------------------------------------------------------------------- merging
def load_previous(csv_path: Path) -> list[dict]:
    """Fold rows of earlier runs; a rerun of a (cohort, model) pair replaces that pair's rows."""
    if not csv_path.exists():
        return []
    return pd.read_csv(csv_path).to_dict("records")


def load_runs(json_path: Path) -> list[dict]:
    """Metadata (date, command, machine) of every earlier run whose rows are in the table."""
    return json.loads(json_path.read_text(encoding="utf-8")) if json_path.exists() else []


def order_rows(folds: pd.DataFrame) -> pd.DataFrame:
    """Rows in the order of :data:`COHORTS` and :data:`ALL_MODELS` (whatever order the runs came in)."""
    cohort_pos = {c: i for i, c in enumerate([*COHORTS, *EXTRA_COHORTS])}
    model_pos = {m: i for i, m in enumerate(ALL_MODELS)}
    key = folds["cohort"].map(cohort_pos).fillna(99) * 100 + folds["model"].map(model_pos).fillna(99)
    return folds.assign(_key=key).sort_values(["_key", "fold"], kind="stable").drop(columns="_key")


# ---------------------------------------------------------------------------------------------- tables
def summarise(folds: pd.DataFrame) -> pd.DataFrame:
    """Mean / sd per (cohort, model), and the C-td rank of each model within its cohort."""
    summary = (
        folds.groupby(["cohort", "model", "label"], sort=False)
        .agg(
            c_td=("c_td", "mean"),
            c_td_sd=("c_td", "std"),
            harrell_c=("harrell_c", "mean"),
            ibs=("ibs", "mean"),
            fit_s_5fold=("fit_s", "sum"),
            peak_mb=("peak_mb", "max"),
        )
        .reset_index()
    )
    ranked = summary[summary["model"].isin(RANKED)]
    summary["rank"] = ranked.groupby("cohort")["c_td"].rank(ascending=False)
    return summary


def markdown(summary: pd.DataFrame, meta: dict) -> str:
    """The results as markdown: the per-cohort table, the C-td matrix and the mean ranks."""
    runs = meta.get("runs") or [meta]
    lines = [f"# Survival benchmark ({meta['date']})", "", "Runs merged into this table:", ""]
    lines += [f"- {r['date']}: `{r['command']}` on {r['machine']}" for r in runs]
    lines += [
        "",
        f"- folds: {meta['folds']}-fold CV, seed {meta['seed']}, "
        "stratified on event; preprocessing fitted on each training fold",
        "",
    ]
    lines += [
        "| cohort | n | model | C-td (sd) | Harrell C | IBS | fit 5-fold (s) | peak MB | rank |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for _, r in summary.iterrows():
        rank = "" if pd.isna(r["rank"]) else f"{r['rank']:.0f}"
        lines.append(
            f"| {r['cohort']} | {meta['n'].get(r['cohort'], '')} | {r['label']} | {r['c_td']:.3f} "
            f"({r['c_td_sd']:.3f}) | {r['harrell_c']:.3f} | {r['ibs']:.3f} | {r['fit_s_5fold']:.1f} | "
            f"{r['peak_mb']:.0f} | {rank} |"
        )
    matrix = summary.pivot_table(index="cohort", columns="model", values="c_td", sort=False)
    lines += [
        "",
        "## C-td matrix",
        "",
        matrix.round(3).to_markdown(),
        "",
        "## Mean rank (C-td, ranked models)",
        "",
    ]
    ranked = summary.dropna(subset=["rank"])
    main = ranked["cohort"].isin(list(COHORTS))
    ranks = ranked[main].groupby("model")["rank"].mean().sort_values()
    lines += [ranks.round(2).to_frame("mean rank").to_markdown(), ""]
    if (~main).any():
        further = ranked[~main].groupby("model")["rank"].mean().sort_values()
        lines += ["## Mean rank on further cohorts (C-td, ranked models)", ""]
        lines += [further.round(2).to_frame("mean rank").to_markdown(), ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cohorts",
        default=None,
        help=f"comma list of {', '.join(COHORTS)}; further: {', '.join(EXTRA_COHORTS)} ('extra': all)",
    )
    parser.add_argument("--models", default=None, help=f"comma list of {', '.join(ALL_MODELS)}")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 cohorts, small models")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    parser.add_argument(
        "--merge",
        type=Path,
        action="append",
        default=[],
        help="results folder of another run (survival.csv, survival_runs.json) to fold into --out",
    )
    parser.add_argument("--report-only", action="store_true", help="only rebuild the tables in --out")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> pd.DataFrame:
    args = parse_args(argv)
    cohorts = args.cohorts.split(",") if args.cohorts else (QUICK_COHORTS if args.quick else list(COHORTS))
    if "extra" in cohorts:
        cohorts = [c for c in cohorts if c != "extra"] + list(EXTRA_COHORTS)
    models = args.models.split(",") if args.models else DEFAULT_MODELS
    known = {**COHORTS, **EXTRA_COHORTS}
    unknown = [c for c in cohorts if c not in known] + [m for m in models if m not in ALL_MODELS]
    if unknown:
        raise SystemExit(f"unknown cohort/model: {unknown}")
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python benchmarks/survival.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": f"{platform.machine()} CPU x{mp.cpu_count()}, no GPU used ({platform.platform()})",
        "folds": args.folds,
        "seed": args.seed,
        "n": {},
    }
    csv_path = args.out / "survival.csv"
    rows: list[dict] = load_previous(csv_path)
    runs = load_runs(args.out / "survival_runs.json")
    for other in args.merge:
        extra = load_previous(other / "survival.csv")
        pairs = {(r["cohort"], r["model"]) for r in extra}
        rows = [r for r in rows if (r["cohort"], r["model"]) not in pairs] + extra
        runs += [r for r in load_runs(other / "survival_runs.json") if r not in runs]
    if args.report_only or args.merge:
        cohorts, models = [], []
    else:
        runs.append({k: meta[k] for k in ("date", "command", "machine")})
    context = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        for cohort in cohorts:
            npz, n, width = prepare_folds(cohort, args.folds, args.seed, Path(tmp))
            meta["n"][cohort] = n
            print(f"== {cohort}: {n} patients, {width} input columns", flush=True)
            for model in models:
                with cf.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
                    try:
                        result = pool.submit(
                            run_task, cohort, model, str(npz), args.quick, args.seed
                        ).result()
                    except Exception as exc:  # noqa: BLE001 - record and keep going
                        print(f"   {model}: FAILED {type(exc).__name__}: {exc}", flush=True)
                        continue
                for row in result:
                    row["n"], row["run_date"] = n, meta["date"]
                rows = [r for r in rows if (r["cohort"], r["model"]) != (cohort, model)] + result
                frame = pd.DataFrame(result)
                print(
                    f"   {result[0]['label']:<45} C-td {frame.c_td.mean():.3f} ({frame.c_td.std():.3f})  "
                    f"Harrell {frame.harrell_c.mean():.3f}  IBS {frame.ibs.mean():.3f}  "
                    f"fit {frame.fit_s.sum():6.1f}s  peak {result[0]['peak_mb']:.0f} MB",
                    flush=True,
                )
                pd.DataFrame(rows).to_csv(csv_path, index=False)
    pd.DataFrame(rows).to_csv(csv_path, index=False)  # also after --merge / --report-only
    (args.out / "survival_runs.json").write_text(json.dumps(runs, indent=1), encoding="utf-8")
    folds = order_rows(pd.DataFrame(rows))
    meta["n"] = folds.groupby("cohort")["n"].first().to_dict() if "n" in folds else meta["n"]
    meta["runs"] = runs
    summary = summarise(folds)
    summary.to_csv(args.out / "survival_summary.csv", index=False)
    text = markdown(summary, meta)
    (args.out / "survival.md").write_text(text, encoding="utf-8")
    print(text)
    return summary


if __name__ == "__main__":
    main()
