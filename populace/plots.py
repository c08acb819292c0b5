"""Plots for reports and the demo (matplotlib, Agg backend, written to PNG files)."""

from __future__ import annotations

import pathlib

import numpy as np
import pandas as pd

from populace.io import atomic_path


def _figure(width: float, height: float, rows: int = 1):  # noqa: ANN202 - matplotlib objects
    """A figure and its axes, made without pyplot so no global backend is switched."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    axes = fig.subplots(rows, 1, squeeze=False)
    return fig, axes


def _save(fig, path: pathlib.Path) -> pathlib.Path:  # noqa: ANN001
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    return path


def ppc_plot(cells: pd.DataFrame, path: pathlib.Path) -> pathlib.Path:
    """Every input cell: the posterior predictive interval minus the observed share.

    Plotted in percentage points around 0, so exact tables (met by construction) show as
    a flat line, and a published value outside its interval stands out in red.
    """
    tables = list(dict.fromkeys(cells["table"]))
    fig, axes = _figure(10, 2.2 * len(tables), rows=len(tables))
    for ax, name in zip(axes[:, 0], tables):
        part = cells[cells["table"] == name].reset_index(drop=True)
        x = np.arange(len(part))
        mid = 100 * (part["mean"] - part["observed"])
        lo, hi = 100 * (part["lower"] - part["observed"]), 100 * (part["upper"] - part["observed"])
        outside = (lo > 0) | (hi < 0)
        ax.axhline(0, color="black", lw=0.8)
        ax.vlines(x, lo, hi, color="tab:blue", lw=2, label="90% posterior predictive interval")
        ax.plot(x, mid, "o", ms=3, color="tab:blue")
        ax.plot(x[outside], mid[outside], "o", ms=5, color="tab:red", label="observed value outside")
        ax.set_title(name, fontsize=9)
        ax.set_ylabel("predicted - observed\n(percentage points)", fontsize=7)
        ax.set_xticks(x)
        labels = [c.split("=", 1)[1] if c.count("=") == 1 else c.replace(", ", "\n") for c in part["cell"]]
        ax.set_xticklabels(labels, fontsize=6, rotation=90 if len(part) > 8 else 0)
    axes[0, 0].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return _save(fig, path)


def heatmap_plot(
    summary: pd.DataFrame, rows: str, cols: str, path: pathlib.Path, truth: pd.Series | None = None
) -> pathlib.Path:
    """Heat map of a two-way joint: posterior mean share with the 90% interval in each cell.

    Examples
    --------
    >>> path = heatmap_plot(post.summary(["region", "wage"]), "region", "wage", pathlib.Path("heat.png"))
    >>> path.read_bytes()[1:4]  # a PNG file
    b'PNG'
    """
    r_levels = list(dict.fromkeys(summary[rows]))
    c_levels = list(dict.fromkeys(summary[cols]))
    mean = summary.pivot(index=rows, columns=cols, values="mean").loc[r_levels, c_levels]
    lower = summary.pivot(index=rows, columns=cols, values="lower").loc[r_levels, c_levels]
    upper = summary.pivot(index=rows, columns=cols, values="upper").loc[r_levels, c_levels]
    fig, axes = _figure(1.6 * len(c_levels) + 2, 0.9 * len(r_levels) + 1.5)
    ax = axes[0, 0]
    image = ax.imshow(mean.values, cmap="viridis")
    for i in range(len(r_levels)):
        for j in range(len(c_levels)):
            text = f"{mean.values[i, j]:.3f}\n[{lower.values[i, j]:.3f}, {upper.values[i, j]:.3f}]"
            if truth is not None:
                text += f"\ntrue {truth.loc[(r_levels[i], c_levels[j])]:.3f}"
            ax.text(j, i, text, ha="center", va="center", fontsize=7, color="white")
    ax.set_xticks(range(len(c_levels)), c_levels)
    ax.set_yticks(range(len(r_levels)), r_levels)
    ax.set_xlabel(cols)
    ax.set_ylabel(rows)
    ax.set_title(f"posterior share of {rows} x {cols} (mean, 90% interval)", fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.04)
    return _save(fig, path)


def recovery_plot(
    truth: np.ndarray, estimates: dict[str, np.ndarray], lower: np.ndarray, upper: np.ndarray, path: pathlib.Path
) -> pathlib.Path:
    """Estimated against true cell shares, with populace's 90% intervals."""
    fig, axes = _figure(5.5, 5.5)
    ax = axes[0, 0]
    t = truth.ravel()
    first = next(iter(estimates))
    ax.errorbar(
        t,
        estimates[first].ravel(),
        yerr=[estimates[first].ravel() - lower.ravel(), upper.ravel() - estimates[first].ravel()],
        fmt="o",
        ms=2,
        alpha=0.5,
        label=f"{first} (90%)",
    )
    for name, est in list(estimates.items())[1:]:
        ax.plot(t, est.ravel(), ".", ms=3, alpha=0.6, label=name)
    top = max(t.max(), max(e.max() for e in estimates.values())) * 1.05
    ax.plot([0, top], [0, top], "k--", lw=0.8)
    ax.set_xscale("symlog", linthresh=1e-3)
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.set_xlabel("true share")
    ax.set_ylabel("estimated share")
    ax.legend(fontsize=7)
    ax.set_title("full joint: estimate against truth", fontsize=9)
    return _save(fig, path)


def forecast_plot(table: pd.DataFrame, level: str, path: pathlib.Path, actual: pd.Series | None = None) -> pathlib.Path:
    """Forecast share of one outcome level by group, with intervals, against actual results.

    ``table`` is a forecast table with one group column; ``actual`` (optional) maps group
    level to the actual share. A table by US state (postal codes) is drawn as a tile map
    (:func:`state_map`).
    """
    group = [c for c in table.columns if c not in ("level", "mean", "sd", "lower", "upper")]
    if len(group) == 1 and is_us_states(table[group[0]]):
        return state_map(table, level, path, actual)
    part = table[table["level"] == level].sort_values("mean").reset_index(drop=True)
    labels = part[group].astype(str).agg(", ".join, axis=1) if group else pd.Series(["all"])
    fig, axes = _figure(6.5, max(2.5, 0.22 * len(part) + 1))
    ax = axes[0, 0]
    y = np.arange(len(part))
    ax.hlines(y, part["lower"], part["upper"], color="tab:blue", lw=2, label="90% interval")
    ax.plot(part["mean"], y, "o", ms=3, color="tab:blue", label="forecast")
    if actual is not None:
        values = [actual.get(lbl, np.nan) for lbl in labels]
        ax.plot(values, y, "x", color="tab:red", label="actual")
    ax.set_yticks(y, labels, fontsize=6 if len(part) > 20 else 8)
    ax.set_xlabel(f"share: {level}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


# US tile grid (row, column): every state one square, placed roughly as on a map.
US_TILES = {
    "AK": (0, 0), "ME": (0, 11), "VT": (1, 10), "NH": (1, 11),
    "WA": (2, 1), "ID": (2, 2), "MT": (2, 3), "ND": (2, 4), "MN": (2, 5), "IL": (2, 6), "WI": (2, 7),
    "MI": (2, 8), "NY": (2, 9), "RI": (2, 10), "MA": (2, 11),
    "OR": (3, 1), "NV": (3, 2), "WY": (3, 3), "SD": (3, 4), "IA": (3, 5), "IN": (3, 6), "OH": (3, 7),
    "PA": (3, 8), "NJ": (3, 9), "CT": (3, 10),
    "CA": (4, 1), "UT": (4, 2), "CO": (4, 3), "NE": (4, 4), "MO": (4, 5), "KY": (4, 6), "WV": (4, 7),
    "VA": (4, 8), "MD": (4, 9), "DE": (4, 10),
    "AZ": (5, 2), "NM": (5, 3), "KS": (5, 4), "AR": (5, 5), "TN": (5, 6), "NC": (5, 7), "SC": (5, 8), "DC": (5, 9),
    "OK": (6, 4), "LA": (6, 5), "MS": (6, 6), "AL": (6, 7), "GA": (6, 8),
    "HI": (7, 0), "TX": (7, 4), "FL": (7, 9),
}  # fmt: skip


def is_us_states(labels: pd.Series) -> bool:
    """True when the labels are US postal codes, most of the states."""
    values = set(labels.astype(str))
    return len(values) >= 40 and values <= set(US_TILES)


def state_map(table: pd.DataFrame, level: str, path: pathlib.Path, actual: pd.Series | None = None) -> pathlib.Path:
    r"""A US tile map of a forecast by state: the share, its interval, and the actual result.

    Each state is a square coloured by the forecast share of ``level`` (diverging around
    one half), labelled with the share and its interval; where ``actual`` (state -> share)
    is given, the actual result is written below and a state whose interval misses it
    is outlined in black.

    Examples
    --------
    >>> t = pd.DataFrame({"state": list(US_TILES), "level": "yes", "mean": 0.5, "lower": 0.45, "upper": 0.55})
    >>> state_map(t, "yes", pathlib.Path("map.png")).read_bytes()[:4]
    b'\x89PNG'
    """
    from matplotlib import colormaps
    from matplotlib.patches import Rectangle

    group = [c for c in table.columns if c not in ("level", "mean", "sd", "lower", "upper")][0]
    part = table[table["level"] == level].set_index(group)
    fig, axes = _figure(12, 7.5)
    ax = axes[0, 0]
    cmap = colormaps["RdBu_r"]
    for state, (row, col) in US_TILES.items():
        if state not in part.index:
            continue
        mean, lower, upper = (float(part.loc[state, k]) for k in ("mean", "lower", "upper"))
        colour = cmap(np.clip((mean - 0.5) / 0.3 + 0.5, 0, 1))
        truth = None if actual is None else actual.get(state)
        missed = truth is not None and not lower <= truth <= upper
        ax.add_patch(
            Rectangle((col, -row), 0.95, 0.95, facecolor=colour, edgecolor="black" if missed else "white", lw=2.5)
        )
        text = f"{state}\n{mean:.0%}\n{lower:.0%}-{upper:.0%}"
        if truth is not None:
            text += f"\nactual {truth:.0%}"
        ink = "white" if abs(mean - 0.5) > 0.12 else "black"
        ax.text(col + 0.475, -row + 0.475, text, ha="center", va="center", fontsize=6.5, color=ink)
    ax.set_xlim(-0.2, 12.2)
    ax.set_ylim(-7.2, 1.1)
    ax.set_aspect("equal")
    ax.axis("off")
    title = f"forecast share: {level} (mean, 90% interval)"
    if actual is not None:
        title += "; outlined: actual outside the interval"
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def graph_plot(
    names: list[str], edges: list[tuple[int, int]], tables: list[tuple[int, ...]], path: pathlib.Path, title: str = ""
) -> pathlib.Path:
    """The decomposable model's graph: attributes on a circle, an edge where two share a clique.

    Edges that a published table forces are drawn solid, those the sample chose dashed.

    Examples
    --------
    >>> import tempfile
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "graph.png"
    >>> graph_plot(["a", "b", "c"], [(0, 1), (1, 2)], [(0, 1)], out).is_file()
    True
    """
    fig, axes = _figure(6.0, 6.0)
    ax = axes[0, 0]
    angle = 2 * np.pi * np.arange(len(names)) / max(len(names), 1)
    x, y = np.cos(angle), np.sin(angle)
    forced = {(a, b) for t in tables for a in t for b in t if a < b}
    for a, b in edges:
        style = "-" if (min(a, b), max(a, b)) in forced else "--"
        ax.plot([x[a], x[b]], [y[a], y[b]], style, color="0.35", linewidth=1.2, zorder=1)
    ax.scatter(x, y, s=250, color="white", edgecolor="black", zorder=2)
    for i, name in enumerate(names):
        side = "left" if x[i] > 0.3 else "right" if x[i] < -0.3 else "center"
        ax.annotate(name, (x[i] * 1.12, y[i] * 1.14), ha=side, va="center", fontsize=9)
    ax.set_xlim(-1.9, 1.9)
    ax.set_ylim(-1.5, 1.5)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title or "graph: solid edges from published tables, dashed from the sample", fontsize=9)
    return _save(fig, path)
