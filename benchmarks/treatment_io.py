"""Result files of ``benchmarks/treatment.py``: per-section CSV / Markdown and the assembled treatment.md."""

from __future__ import annotations

import datetime as dt
import fcntl
import platform
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SECTIONS = ("ihdp", "trials", "trials_further", "rotterdam", "semisynth", "semisynth_delayed", "speed")


def as_tuples(params: dict) -> dict:
    """JSON lists back to tuples (network sizes)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}


def write_section(section: str, table: pd.DataFrame, lines: list[str], header: str, tag: str = "") -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = "\n".join([header, *lines, ""])
    if tag:  # tagged runs (attempts) are kept apart from the main results, in the attempt log
        append_attempt(section, table, text, tag)
        return
    table.to_csv(RESULTS / f"treatment_{section}.csv", index=False)
    (RESULTS / f"treatment_{section}.md").write_text(text, encoding="utf-8")
    parts = [
        (RESULTS / f"treatment_{s}.md").read_text(encoding="utf-8")
        for s in SECTIONS
        if (RESULTS / f"treatment_{s}.md").exists()
    ]
    (RESULTS / "treatment.md").write_text("# Treatment benchmark\n\n" + "\n".join(parts), encoding="utf-8")


def append_attempt(section: str, table: pd.DataFrame, text: str, tag: str) -> None:
    """Append a tagged run to ``treatment_attempts.md`` (as ``### [name] ...``) and ``.csv``."""
    name = tag.removeprefix("_attempt_").lstrip("_")
    # runs side by side: an exclusive lock makes the read-modify-write of the CSV lose no rows
    with (RESULTS / ".attempts.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with (RESULTS / "treatment_attempts.md").open("a", encoding="utf-8") as fh:
            fh.write("\n" + text.replace("## ", f"### [{name}] ", 1))
        csv = RESULTS / "treatment_attempts.csv"
        rows = table.assign(section=section, attempt=name)
        old = (
            pd.read_csv(csv, low_memory=False)
            if csv.exists()
            else pd.DataFrame(columns=["section", "attempt"])
        )
        merged = pd.concat([old, rows], ignore_index=True)
        first = ["section", "attempt"]
        merged[[*first, *[c for c in merged.columns if c not in first]]].to_csv(csv, index=False)


def section_header(title: str, command: str) -> str:
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"## {title}\n\n`{command}` - {when}, {platform.processor() or platform.machine()}, CPU only\n"


def md_table(df: pd.DataFrame, floatfmt: str = ".3f") -> list[str]:
    cols = list(df.columns)
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        cells = [format(v, floatfmt) if isinstance(v, float) else str(v) for v in row]
        out.append("| " + " | ".join(cells) + " |")
    return out
