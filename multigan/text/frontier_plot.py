"""The frontier plot of a :func:`multigan.text.frontier.evaluate_frontier` report.

Two panels with self-BLEU-4 (leave-one-out; right = less diverse) on the x axis: BLEU-4 against the
references (up = better quality), and NLL_gen of the references per token (down = better coverage of
real text). Each curve is one generator swept over the sampling temperature (points labelled by T); the
real-text point is a star on the left panel and a vertical line on the right one (it has no likelihood).
"""
from __future__ import annotations

import json
from pathlib import Path

from .frontier import summary_rows

#: (y key, y label) of the two panels; the x axis is self-BLEU-4 in both
PANELS = (("bleu4", "BLEU-4 against the references (higher = better)"),
          ("nll_gen", "NLL_gen, nats per token (lower = better)"))
X_KEY = "self_bleu4"


def frontier_figure(report: dict):
    """A matplotlib figure of the report (the caller closes it)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.3), dpi=100)
    real = report.get("real")
    for ax, (key, label) in zip(axes, PANELS):
        for c in report["curves"]:
            pts = sorted(c["points"], key=lambda p: p[X_KEY])
            xs, ys = [p[X_KEY] for p in pts], [p[key] for p in pts]
            style = "-" if c.get("kind", "gan") == "gan" else "--"
            ax.plot(xs, ys, style, marker="o", markersize=4, label=c["label"])
            for p, x, y in zip(pts, xs, ys):
                ax.annotate(f"{p['temperature']:g}", (x, y), fontsize=6, xytext=(2, 2), textcoords="offset points")
        if real is not None and key in real:
            ax.plot([real[X_KEY]], [real[key]], "k*", markersize=12, label="real text")
        elif real is not None:
            ax.axvline(real[X_KEY], color="k", linestyle=":", linewidth=1, label="real text self-BLEU-4")
        ax.set_xlabel("self-BLEU-4 (leave-one-out; lower = more diverse)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"quality vs diversity over the sampling temperature: {report['samples']} samples per point, "
                 f"{report['num_references']} references {report.get('references', '')}", fontsize=8)
    fig.tight_layout()
    return fig


def save_frontier_plot(report: dict, path: str | Path) -> Path:
    """Write :func:`frontier_figure` as a PNG; returns the path."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = frontier_figure(report)
    fig.savefig(path)
    plt.close(fig)
    return path


def log_frontier(writer, report: dict) -> None:
    """The figure and one text line per point into a TensorBoard ``SummaryWriter``."""
    writer.add_figure("frontier", frontier_figure(report))  # closes the figure
    writer.add_text("frontier/points", "\n".join(f"    {row}" for row in summary_rows(report)))


def write_report(report: dict, path: str | Path) -> tuple[Path, Path]:
    """``path`` (JSON) and the plot beside it (``.png``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path, save_frontier_plot(report, path.with_suffix(".png"))
