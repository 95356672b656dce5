"""The PNG charts run.py writes next to results.md (matplotlib, Agg backend):

- ratios.png: layerc's time / the best peer's, per model and batch (one bar per
  thread setting, log scale, a line at 1.0: below it layerc is faster);
- batch_sweep.png: time per sample against batch size 1, 2, 4, ..., 256 for
  layerc and the sweep's peer (ONNX Runtime), one panel per model, log axes.

Imported only after the timing is done (matplotlib is not needed before).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from common import Row, Sweep, best_peer

#: Short peer names for bar labels.
SHORT = {"onnxruntime": "ORT", "torch eager": "torch", "keras.predict": "k.predict",
         "keras call": "k.call"}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def write_ratio_chart(rows: Sequence[Row], path: str, reference: str = "layerc") -> None:
    """Bar chart of layerc / best peer per (model, batch), grouped by thread setting."""
    plt = _pyplot()
    groups = list(dict.fromkeys((r.case, r.batch) for r in rows))
    settings = list(dict.fromkeys(r.threads for r in rows))
    by_key = {(r.case, r.batch, r.threads): r for r in rows}
    width = 0.8 / len(settings)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(groups) + 2), 4.8))
    for i, setting in enumerate(settings):
        xs, ratios, labels = [], [], []
        for g, (case, batch) in enumerate(groups):
            row = by_key.get((case, batch, setting))
            if row is None:
                continue
            best = best_peer(row, reference)
            xs.append(g - 0.4 + width * (i + 0.5))
            ratios.append(row.times[reference].median_us / row.times[best].median_us)
            labels.append(SHORT.get(best, best))
        # Bars grow from the 1.0 line: up where layerc is slower, down where faster.
        ax.bar(xs, [r - 1.0 for r in ratios], width, bottom=1.0, label=f"threads {setting}")
        for x, ratio, label in zip(xs, ratios, labels):
            up = ratio >= 1.0
            ax.annotate(f"{ratio:.2f}\n{label}", (x, ratio), xytext=(0, 2 if up else -2),
                        textcoords="offset points", ha="center", va="bottom" if up else "top",
                        fontsize=6)
    ax.axhline(1.0, color="black", linewidth=1)
    ax.set_yscale("log")
    low, high = ax.get_ylim()  # room for the labels above and below the bars
    ax.set_ylim(min(low, 0.8) / 1.6, max(high, 1.25) * 1.6)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([f"{case}\nbatch {batch}" for case, batch in groups], rotation=45,
                       ha="right", fontsize=7)
    ax.set_ylabel(f"{reference} time / best peer's time (log; < 1: {reference} faster)")
    ax.set_title(f"{reference} / best peer (fastest of ONNX Runtime, torch eager, Keras)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_sweep_chart(sweeps: Sequence[Sweep], path: str, reference: str = "layerc") -> None:
    """Time per sample against batch size, log-log, one panel per model."""
    plt = _pyplot()
    cols = min(4, len(sweeps))
    nrows = math.ceil(len(sweeps) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(max(5.0, 3.6 * cols), 3.2 * nrows + 0.4),
                             squeeze=False)
    for ax, sweep in zip(axes.flat, sweeps):
        batches = list(sweep.points)
        for name in (reference, sweep.peer):
            per_sample = [sweep.points[b][name].median_us / b for b in batches]
            ax.plot(batches, per_sample, marker="o", markersize=3, label=name)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(sweep.case + (" (cut short)" if sweep.note else ""), fontsize=9)
        ax.set_xlabel("batch", fontsize=8)
        ax.set_ylabel("us per sample", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(True, which="both", linewidth=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(sweeps):]:
        ax.set_visible(False)
    fig.suptitle("Time per sample against batch size (threads default)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
