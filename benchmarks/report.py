"""Report benchmark: time (per stage) and peak memory to build the full tumor-board report.

For each cohort a model is first trained in its own process (the training time is reported separately and
not counted in the report time), then the report is built in a fresh process exactly as
``oncoplan report MODEL COHORT -o report.html`` does (default ``--n-boot 200``, baselines on, the policy
section computed when the cohort has arms), so the peak resident memory is that of the report alone.

* ``colon``: the demo's model (``survset:colon``, seeded 70/15/15 split, trained on train+val with the demo's
  settings ``max_epochs=200, n_ensemble=5``); the report is judged on the 15% test part.
* ``support2``: ``survset:support2`` (9,105 patients, no treatment arm), a DeepSurvival bundle trained on a
  seeded 70/30 holdout (``max_epochs=100, n_ensemble=1`` by default), the report judged on the 30%.

    nice -n 10 python benchmarks/report.py                      # both cohorts
    python benchmarks/report.py --cohorts colon --n-boot 50      # quicker look

Writes ``benchmarks/results/report.json`` (every number) and ``benchmarks/results/report.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

COHORTS = {
    "colon": {
        "source": "survset:colon",
        "fractions": (0.7, 0.15, 0.15),
        "params": {"max_epochs": 200, "n_ensemble": 5},
    },
    "support2": {
        "source": "survset:support2",
        "fractions": (0.7, 0.3),
        "params": {"max_epochs": 100, "n_ensemble": 1},
    },
}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kB


def train_stage(name: str, folder: Path, seed: int, params: dict) -> dict:
    """Train the cohort's model on its holdout split and save bundle + split.json into ``folder``."""
    import numpy as np

    from oncoplan.data import load_cohort
    from oncoplan.data.splits import holdout_split
    from oncoplan.train.workflow import train_survival_model

    conf = COHORTS[name]
    cohort = load_cohort(conf["source"])
    split = holdout_split(cohort, conf["fractions"], seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    split.to_json(folder / "split.json")
    train_rows = np.sort(np.concatenate([v for k, v in split.parts.items() if k != "test"]))
    started = time.perf_counter()
    bundle = train_survival_model(cohort, train_rows, params, seed=seed)
    seconds = time.perf_counter() - started
    bundle.save(folder / "model")
    return {
        "patients": int(cohort.n_patients),
        "events": int(cohort.event.sum()),
        "has_treatment": cohort.treatment is not None,
        "train_patients": int(len(train_rows)),
        "test_patients": int(len(split.parts["test"])),
        "params": params,
        "train_seconds": round(seconds, 2),
        "train_peak_rss_mb": round(_peak_rss_mb(), 1),
    }


def report_stage(name: str, folder: Path, n_boot: int, seed: int) -> dict:
    """Build the report as the CLI does (load, collect, render, write) and time each stage."""
    from oncoplan.data import load_cohort
    from oncoplan.report.build import collect_report, render_report

    started = time.perf_counter()
    cpu_started = time.process_time()
    cohort = load_cohort(COHORTS[name]["source"])
    load_s = time.perf_counter() - started
    data = collect_report(folder / "model", cohort, baselines=True, n_boot=n_boot, seed=seed)
    collect_done = time.perf_counter()
    html = render_report(data, generated="benchmark")
    out = folder / "report.html"
    out.write_text(html, encoding="utf-8")
    render_s = time.perf_counter() - collect_done
    total = time.perf_counter() - started
    return {
        "n_boot": n_boot,
        "report_seconds": round(total, 2),
        "report_cpu_seconds": round(time.process_time() - cpu_started, 2),
        "stages": {"load cohort": round(load_s, 3), **data.timings, "render + write": round(render_s, 3)},
        "report_peak_rss_mb": round(_peak_rss_mb(), 1),
        "html_mb": round(out.stat().st_size / 1e6, 2),
        "policy_section": data.policy is not None,
        "test_patients": int(data.evaluation.test.n_patients),
    }


def _child(stage: str, name: str, folder: Path, n_boot: int, seed: int, params: dict) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        stage,
        "--cohorts",
        name,
        "--folder",
        str(folder),
        "--n-boot",
        str(n_boot),
        "--seed",
        str(seed),
        "--params",
        json.dumps(params),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{stage} {name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _markdown(rows: list[dict], command: str, started: str) -> str:
    lines = [
        "# Report benchmark",
        "",
        f"- command: `{command}`",
        f"- date: {started}",
        "- machine: 2-core AMD EPYC CPU sandbox, no GPU (shared with other jobs; run under `nice -n 10`)",
        f"- python {platform.python_version()}, {platform.platform()}",
        "",
        "Report time = load the cohort + `collect_report` (every statistic, baselines, bootstrap CIs) "
        "+ render + write, in a fresh process, as `oncoplan report` does. Training is timed separately. "
        "Wall times depend on the load of the shared machine; CPU time (all threads of the process) less so.",
        "",
        "| cohort | patients (test) | n_boot | training (s) | report wall (s) | report CPU (s) "
        "| report peak RSS (MB) | HTML (MB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['cohort']} | {r['patients']} ({r['test_patients']}) | {r['n_boot']} | "
            f"{r['train_seconds']} | {r['report_seconds']} | {r.get('report_cpu_seconds', '-')} | "
            f"{r['report_peak_rss_mb']} | {r['html_mb']} |"
        )
    lines += ["", "Per stage (seconds):", ""]
    for r in rows:
        stages = ", ".join(f"{k} {v}" for k, v in r["stages"].items())
        lines.append(f"- {r['cohort']}: {stages}")
    lines += ["", "Training settings:", ""]
    for r in rows:
        lines.append(
            f"- {r['cohort']}: train {r['train_patients']} patients, {json.dumps(r['params'])}, "
            f"policy section: {'yes' if r['policy_section'] else 'no (no treatment arm)'}"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Parse arguments; run each cohort's training and report in separate processes."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cohorts", default="colon,support2")
    parser.add_argument("--n-boot", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--params", default=None, help="JSON model parameters (overrides the defaults)")
    parser.add_argument("--tag", default="", help="suffix of the result files, e.g. _before")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--folder", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.child:
        name, folder = args.cohorts, Path(args.folder)
        if args.child == "train":
            out = train_stage(name, folder, args.seed, json.loads(args.params))
        else:
            out = report_stage(name, folder, args.n_boot, args.seed)
        print(json.dumps(out))
        return
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = "python benchmarks/report.py " + " ".join(argv if argv is not None else sys.argv[1:])
    rows = []
    with tempfile.TemporaryDirectory(prefix="oncoplan-report-bench-") as tmp:
        for name in args.cohorts.split(","):
            params = json.loads(args.params) if args.params else COHORTS[name]["params"]
            folder = Path(tmp) / name
            trained = _child("train", name, folder, args.n_boot, args.seed, params)
            print(f"{name}: trained in {trained['train_seconds']} s", flush=True)
            reported = _child("report", name, folder, args.n_boot, args.seed, params)
            print(f"{name}: report in {reported['report_seconds']} s {reported['stages']}", flush=True)
            rows.append({"cohort": name, **trained, **reported})
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"report{args.tag}.json").write_text(
        json.dumps({"command": command, "date": started, "rows": rows}, indent=1), encoding="utf-8"
    )
    (RESULTS / f"report{args.tag}.md").write_text(_markdown(rows, command, started), encoding="utf-8")
    print(_markdown(rows, command, started))


if __name__ == "__main__":
    main()
