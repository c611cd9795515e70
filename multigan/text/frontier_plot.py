"""The frontier plot of a :func:`multigan.text.frontier.evaluate_frontier` report.

Two panels with self-BLEU-4 (leave-one-out; right = less diverse) on the x axis: BLEU-4 against the
references (up = better quality), and NLL_gen of the references per token (down = better coverage of
real text). Each curve is one generator swept over the sampling temperature (points labelled by T); the
real-text point is a star on the left panel and a vertical line on the right one (it has no likelihood).
A third panel shows the reverse-LM score when the report has one. Top-p curves are labelled ``p=...``.
"""
from __future__ import annotations

import json
from pathlib import Path

from .frontier import point_name, summary_rows

#: (y key, y label) of the panels; the x axis is self-BLEU-4 in all
PANELS = (("bleu4", "BLEU-4 against the references (higher = better)"),
          ("nll_gen", "NLL_gen, nats per token (lower = better)"))
REVERSE_PANEL = ("reverse_lm", "reverse-LM score, nats per token (lower = better)")
X_KEY = "self_bleu4"


def panels(report: dict) -> tuple:
    """The two standard panels, plus the reverse-LM one when some point has that score."""
    scored = any(p.get("reverse_lm") is not None for c in report["curves"] for p in c["points"])
    return PANELS + ((REVERSE_PANEL,) if scored else ())


def _half(point: dict, key: str) -> float:
    """The 95 % half-width of ``point[key]`` in a seed aggregate (0 when unknown)."""
    return (point.get("ci95") or {}).get(key) or 0.0


def frontier_figure(report: dict):
    """A matplotlib figure of the report (the caller closes it)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = panels(report)
    fig, axes = plt.subplots(1, len(shown), figsize=(5 * len(shown), 4.3), dpi=100)
    real = report.get("real")
    for ax, (key, label) in zip(axes, shown):
        for c in report["curves"]:
            pts = sorted((p for p in c["points"] if p.get(key) is not None), key=lambda p: p[X_KEY])
            if not pts:
                continue
            xs, ys = [p[X_KEY] for p in pts], [p[key] for p in pts]
            style = "-" if c.get("kind", "gan") == "gan" else (":" if c.get("sampler") == "top_p" else "--")
            line, = ax.plot(xs, ys, style, marker="o", markersize=4, label=c["label"])
            if any("ci95" in p for p in pts):  # a seed aggregate (multigan.text.frontier_seeds): 95 % intervals
                ax.errorbar(xs, ys, xerr=[_half(p, X_KEY) for p in pts], yerr=[_half(p, key) for p in pts],
                            fmt="none", ecolor=line.get_color(), elinewidth=0.8, capsize=2)
            for p, x, y in zip(pts, xs, ys):
                ax.annotate(point_name(p), (x, y), fontsize=6, xytext=(2, 2), textcoords="offset points")
        if real is not None and real.get(key) is not None:
            ax.plot([real[X_KEY]], [real[key]], "k*", markersize=12, label="real text")
        elif real is not None:
            ax.axvline(real[X_KEY], color="k", linestyle=":", linewidth=1, label="real text self-BLEU-4")
        ax.set_xlabel("self-BLEU-4 (leave-one-out; lower = more diverse)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    seeds = f", mean of {report['seeds']} training seeds, 95 % t-intervals" if report.get("seeds") else ""
    fig.suptitle(f"quality vs diversity over the sampling temperature: {report['samples']} samples per point, "
                 f"{report['num_references']} references {report.get('references', '')}{seeds}", fontsize=8)
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
