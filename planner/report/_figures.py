"""Plotly figures of the report: pure functions from tables to figures, one look throughout.

Every axis carries its quantity and unit; a model family keeps its colour in every figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

# Tableau-10 then its lighter twins: distinguishable, print-safe, colour-blind-friendlier than defaults.
PALETTE = (
    "#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#EECA3B", "#9D755D", "#FF9DA6", "#BAB0AC",
    "#1F4E79", "#A65E00", "#2E6B2A", "#9C2F2E", "#3F7F7A", "#6E4470", "#8C7A1E", "#5E4436", "#C2677A", "#6F6A66",
)  # fmt: skip
NEUTRAL = "#8A94A3"
BEST = "#1F2933"  # near-black: no model family shares it
FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif'


def family_colors(families: Sequence[str]) -> dict[str, str]:
    """A fixed colour per model family: single families first (sorted), then combinations."""
    unique = sorted(set(families), key=lambda f: ("+" in f, f))
    return {f: PALETTE[i % len(PALETTE)] for i, f in enumerate(unique)}


def axis_label(quantity: str, unit: str | None) -> str:
    return f"{quantity} ({unit})" if unit else quantity


def _go() -> Any:
    import plotly.graph_objects as go

    return go


def styled(fig: Any, *, title: str | None = None, x: str | None = None, y: str | None = None, legend: bool = True) -> Any:
    fig.update_layout(
        template="plotly_white",
        font={"family": FONT, "size": 13, "color": "#1f2933"},
        title={"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 15}} if title else None,
        margin={"l": 64, "r": 20, "t": 48 if title else 20, "b": 56},
        showlegend=legend,
        legend={"font": {"size": 12}},
        hoverlabel={"font": {"family": FONT}},
    )
    if x is not None:
        fig.update_xaxes(title_text=x)
    if y is not None:
        fig.update_yaxes(title_text=y)
    return fig


def fold_scores_box(trials: pd.DataFrame, by: str, colors: Mapping[str, str] | None, *, metric: str, title: str) -> Any:
    """Box + all points of the per-fold scores of complete trials, one box per value of ``by``.

    Without ``colors`` every box is one neutral colour: family colours mean families only.
    """
    go = _go()
    fig = go.Figure()
    done = trials[trials["state"] == "complete"]
    for name, part in sorted(done.groupby(by), key=lambda kv: str(kv[0])):
        scores = [s for folds in part["fold_scores"] for s in folds]
        labels = [f"trial {t}" for t, folds in zip(part["trial"], part["fold_scores"], strict=True) for _ in folds]
        color = colors.get(str(name), NEUTRAL) if colors else "#3d4a5c"
        fig.add_trace(
            go.Box(
                y=scores,
                name=f"{name} ({len(part)})",
                boxpoints="all",
                jitter=0.45,
                pointpos=0,
                marker={"color": color, "size": 4, "opacity": 0.55},
                line={"color": color},
                text=labels,
                hovertemplate="%{text}<br>fold score %{y:.4g}<extra></extra>",
            )
        )
    return styled(fig, title=title, x=None, y=metric, legend=False)


def history(trials: pd.DataFrame, colors: Mapping[str, str], *, minimize: bool, metric: str) -> Any:
    """Objective per trial (coloured by model family) and the best so far."""
    go = _go()
    fig = go.Figure()
    done = trials[trials["state"] == "complete"].sort_values("trial")
    for family, part in sorted(done.groupby("model_family"), key=lambda kv: kv[0]):
        fig.add_trace(
            go.Scatter(
                x=part["trial"],
                y=part["mean"],
                mode="markers",
                name=family,
                marker={"color": colors.get(family, NEUTRAL), "size": 6, "opacity": 0.8},
                text=part["pipeline"],
                hovertemplate="trial %{x}<br>%{y:.4g}<br>%{text}<extra></extra>",
            )
        )
    best = done["mean"].cummin() if minimize else done["mean"].cummax()
    fig.add_trace(go.Scatter(x=done["trial"], y=best, mode="lines", name="best so far", line={"color": BEST, "width": 2, "shape": "hv"}))
    return styled(fig, title="Optimization history", x="trial number", y=metric)


def bars(values: pd.Series, *, title: str, x: str, color: str = PALETTE[0], text: Sequence[str] | None = None) -> Any:
    """Horizontal bars, largest on top."""
    go = _go()
    values = values.iloc[::-1]
    fig = go.Figure(
        go.Bar(
            x=values.to_numpy(),
            y=[str(i) for i in values.index],
            orientation="h",
            marker={"color": color},
            text=list(text)[::-1] if text is not None else None,
            textposition="auto",
            hovertemplate="%{y}: %{x:.4g}<extra></extra>",
        )
    )
    fig = styled(fig, title=title, x=x, legend=False)
    fig.update_yaxes(automargin=True)
    return fig


def parity(frame: pd.DataFrame, *, quantity: str, unit: str | None) -> Any:
    """Observed vs out-of-fold predicted, with the stated ±1 std as error bars."""
    go = _go()
    y, pred = frame["y_true"].astype(float), frame["prediction"].astype(float)
    has_std = "std" in frame and frame["std"].notna().any()
    lo, hi = float(min(y.min(), pred.min())), float(max(y.max(), pred.max()))
    pad = 0.04 * (hi - lo or 1.0)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[lo - pad, hi + pad], y=[lo - pad, hi + pad], mode="lines", name="y = x", line={"color": NEUTRAL, "dash": "dash"}))
    fig.add_trace(
        go.Scatter(
            x=y,
            y=pred,
            mode="markers",
            name="out-of-fold" + (" (±1 std)" if has_std else ""),
            marker={"color": PALETTE[0], "size": 6, "opacity": 0.75},
            error_y={"type": "data", "array": frame["std"].astype(float), "visible": True, "thickness": 1, "width": 0, "color": "rgba(76,120,168,0.45)"} if has_std else None,
            hovertemplate="observed %{x:.4g}<br>predicted %{y:.4g}<extra></extra>",
        )
    )
    fig = styled(fig, title="Parity (out-of-fold)", x=axis_label(f"observed {quantity}", unit), y=axis_label(f"predicted {quantity}", unit))
    fig.update_xaxes(range=[lo - pad, hi + pad])
    fig.update_yaxes(range=[lo - pad, hi + pad])
    fig.update_layout(legend={"x": 0.01, "y": 0.99, "bgcolor": "rgba(255,255,255,0.7)"})
    return fig


def residuals(frame: pd.DataFrame, *, quantity: str, unit: str | None) -> Any:
    go = _go()
    pred = frame["prediction"].astype(float)
    resid = frame["y_true"].astype(float) - pred
    fig = go.Figure()
    fig.add_hline(y=0, line={"color": NEUTRAL, "dash": "dash"})
    fig.add_trace(go.Scatter(x=pred, y=resid, mode="markers", marker={"color": PALETTE[1], "size": 6, "opacity": 0.75}, name="residual", hovertemplate="predicted %{x:.4g}<br>residual %{y:.4g}<extra></extra>"))
    return styled(fig, title="Residuals (observed − predicted)", x=axis_label(f"predicted {quantity}", unit), y=axis_label("residual", unit), legend=False)


def confusion(matrix: np.ndarray, classes: Sequence[Any]) -> Any:
    go = _go()
    labels = [str(c) for c in classes]
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=labels,
            y=labels,
            colorscale="Blues",
            text=matrix,
            texttemplate="%{text}",
            hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>",
            colorbar={"title": {"text": "rows"}},
        )
    )
    fig = styled(fig, title="Confusion matrix (out-of-fold)", x="predicted class", y="true class", legend=False)
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category", autorange="reversed")
    return fig


def roc(curves: Mapping[str, tuple[np.ndarray, np.ndarray, float]]) -> Any:
    go = _go()
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line={"color": NEUTRAL, "dash": "dash"}))
    for i, (name, (fpr, tpr, auc)) in enumerate(curves.items()):
        fig.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines", name=f"{name} (AUC {auc:.3f})", line={"color": PALETTE[i % len(PALETTE)], "width": 2}))
    fig = styled(fig, title="ROC (out-of-fold)", x="false-positive rate (fraction)", y="true-positive rate (fraction)")
    fig.update_layout(legend={"x": 0.99, "xanchor": "right", "y": 0.02, "yanchor": "bottom", "bgcolor": "rgba(255,255,255,0.7)"})
    return fig


def _swarm_offsets(x: np.ndarray, width: float = 0.38, n_bins: int = 40) -> np.ndarray:
    """Vertical offsets that spread points of similar x like a beeswarm (deterministic)."""
    if len(x) == 0:
        return np.zeros(0)
    span = float(np.ptp(x)) or 1.0
    bins = np.floor((x - x.min()) / span * (n_bins - 1)).astype(int)
    offsets = np.zeros(len(x))
    for b in np.unique(bins):
        idx = np.flatnonzero(bins == b)
        k = np.arange(len(idx))
        # 0, +1, -1, +2, -2 ... scaled to the densest bin
        offsets[idx] = np.where(k % 2 == 1, 1, -1) * ((k + 1) // 2)
    peak = np.abs(offsets).max() or 1.0
    return offsets / peak * width


def beeswarm(values: pd.DataFrame, data: pd.DataFrame, *, top: int, output: str) -> Any:
    """SHAP summary: one row per feature (most important on top), colour = the feature's value."""
    go = _go()
    order = list(values.abs().mean().sort_values(ascending=False).index[:top])
    xs, ys, cs, texts = [], [], [], []
    for pos, feat in enumerate(reversed(order)):
        v = values[feat].to_numpy(dtype=float)
        raw = data[feat]
        if pd.api.types.is_numeric_dtype(raw):
            d = raw.to_numpy(dtype=float)
            texts += [f"{feat} = {val:.4g}" for val in d]
        else:  # a category (models explained on raw columns): colour by category
            d = pd.factorize(raw, sort=True)[0].astype(float)
            d[d < 0] = np.nan
            texts += [f"{feat} = {val}" for val in raw]
        lo, hi = (np.nanmin(d), np.nanmax(d)) if np.isfinite(d).any() else (0.0, 0.0)
        xs.append(v)
        ys.append(pos + _swarm_offsets(v))
        cs.append((d - lo) / (hi - lo) if hi > lo else np.full(len(d), 0.5))
    fig = go.Figure(
        go.Scatter(
            x=np.concatenate(xs),
            y=np.concatenate(ys),
            mode="markers",
            marker={
                "color": np.concatenate(cs),
                "colorscale": [[0, "#2a6fdb"], [0.5, "#b6a6c9"], [1, "#d62728"]],
                "size": 5,
                "opacity": 0.8,
                "colorbar": {"title": {"text": "feature value"}, "tickvals": [0, 1], "ticktext": ["low", "high"], "thickness": 12},
            },
            text=texts,
            hovertemplate="%{text}<br>SHAP %{x:.4g}<extra></extra>",
            showlegend=False,
        )
    )
    fig.add_vline(x=0, line={"color": NEUTRAL, "width": 1})
    fig = styled(fig, title="SHAP summary", x=f"SHAP value (effect on {output})", legend=False)
    fig.update_yaxes(tickvals=list(range(len(order))), ticktext=list(reversed(order)), showgrid=False, zeroline=False, automargin=True)
    return fig


def dependence(values: pd.DataFrame, data: pd.DataFrame, features: Sequence[str], *, output: str,
               kinds: Mapping[str, str] | None = None) -> Any:
    """SHAP value against feature value for each of ``features`` (side by side); ``kinds`` says per
    feature whether its axis is the measured value or the (scaled) model input."""
    from plotly.subplots import make_subplots

    go = _go()
    fig = make_subplots(rows=1, cols=len(features), horizontal_spacing=0.08)
    for i, feat in enumerate(features, 1):
        fig.add_trace(
            go.Scatter(
                x=data[feat],
                y=values[feat],
                mode="markers",
                marker={"color": PALETTE[0], "size": 5, "opacity": 0.7},
                name=feat,
                hovertemplate=f"{feat} = %{{x:.4g}}<br>SHAP %{{y:.4g}}<extra></extra>",
            ),
            row=1,
            col=i,
        )
        fig.update_xaxes(title_text=f"{feat} ({(kinds or {}).get(feat, 'model input')})", row=1, col=i)
    fig.update_yaxes(title_text=f"SHAP (effect on {output})", row=1, col=1)
    return styled(fig, title="SHAP dependence, top features", legend=False)


def calibration(curves: Mapping[str, tuple[np.ndarray, np.ndarray, int]]) -> Any:
    """Observed against expected coverage of central intervals mean ± z·std."""
    go = _go()
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated", line={"color": NEUTRAL, "dash": "dash"}))
    for i, (name, (expected, observed, n)) in enumerate(curves.items()):
        fig.add_trace(go.Scatter(x=expected, y=observed, mode="lines+markers", name=f"{name} (n={n})", line={"color": PALETTE[i % len(PALETTE)], "width": 2}))
    fig = styled(fig, title="Interval calibration", x="expected coverage (nominal level, fraction)", y="observed coverage (fraction)")
    fig.update_layout(legend={"x": 0.01, "y": 0.99, "bgcolor": "rgba(255,255,255,0.7)"})
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(range=[0, 1.02])
    return fig


def reliability(prob: np.ndarray, hit: np.ndarray, *, label: str, n_bins: int = 10) -> Any:
    go = _go()
    edges = np.linspace(0, 1, n_bins + 1)
    idx = np.clip(np.digitize(prob, edges) - 1, 0, n_bins - 1)
    xs, ys, ns = [], [], []
    for b in range(n_bins):
        sel = idx == b
        if sel.any():
            xs.append(float(prob[sel].mean()))
            ys.append(float(hit[sel].mean()))
            ns.append(int(sel.sum()))
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated", line={"color": NEUTRAL, "dash": "dash"}))
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name="out-of-fold", text=[f"{n} rows" for n in ns], line={"color": PALETTE[0], "width": 2}, hovertemplate="predicted %{x:.2f}<br>observed %{y:.2f}<br>%{text}<extra></extra>"))
    fig = styled(fig, title=f"Probability calibration ({label})", x="predicted probability (fraction)", y="observed frequency (fraction)")
    fig.update_layout(legend={"x": 0.01, "y": 0.99})
    return fig


def best_so_far(series: pd.DataFrame, *, quantity: str, unit: str | None, direction: str) -> Any:
    """Each experiment's value and the campaign's best so far; ``series`` has ``n``, ``value``, ``kind``."""
    go = _go()
    fig = go.Figure()
    kinds = list(dict.fromkeys(series["kind"]))
    for i, kind in enumerate(kinds):
        part = series[series["kind"] == kind]
        fig.add_trace(go.Scatter(x=part["n"], y=part["value"], mode="markers", name=kind, marker={"color": PALETTE[i % len(PALETTE)], "size": 6, "opacity": 0.8}, text=part.get("label"), hovertemplate="experiment %{x}<br>%{y:.4g}<br>%{text}<extra></extra>"))
    best = series["value"].cummax() if direction == "max" else series["value"].cummin()
    fig.add_trace(go.Scatter(x=series["n"], y=best, mode="lines", name="best so far", line={"color": BEST, "width": 2, "shape": "hv"}))
    return styled(fig, title=f"{quantity}: best so far ({direction})", x="experiment number (campaign observations, in time order)", y=axis_label(quantity, unit))


def pareto(observed: pd.DataFrame, front: pd.DataFrame, suggested: pd.DataFrame, x: tuple[str, str | None, str], y: tuple[str, str | None, str]) -> Any:
    """Two objectives: observed points, their Pareto front, and suggestions (predicted ±1 std)."""
    go = _go()
    (xn, xu, xd), (yn, yu, yd) = x, y
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=observed[xn], y=observed[yn], mode="markers", name="observed", marker={"color": NEUTRAL, "size": 6, "opacity": 0.6}))
    f = front.sort_values(xn)
    fig.add_trace(go.Scatter(x=f[xn], y=f[yn], mode="lines+markers", name="Pareto front (observed)", line={"color": BEST, "shape": "hv" if (xd == "max") != (yd == "max") else "linear"}, marker={"color": BEST, "size": 8}))
    if len(suggested):
        fig.add_trace(
            go.Scatter(
                x=suggested[f"{xn}_mean"],
                y=suggested[f"{yn}_mean"],
                mode="markers",
                name="suggested (predicted ±1 std)",
                marker={"color": PALETTE[0], "size": 9, "symbol": "diamond"},
                error_x={"type": "data", "array": suggested.get(f"{xn}_std"), "visible": True, "thickness": 1},
                error_y={"type": "data", "array": suggested.get(f"{yn}_std"), "visible": True, "thickness": 1},
                text=suggested.get("_suggestion_id"),
                hovertemplate="%{text}<br>%{x:.4g}, %{y:.4g}<extra></extra>",
            )
        )
    return styled(fig, title="Pareto front", x=axis_label(f"{xn} ({xd})", xu), y=axis_label(f"{yn} ({yd})", yu))


def backtest_curves(curves: pd.DataFrame, column: str, *, title: str, y_label: str, colors: Mapping[str, str]) -> Any:
    """Median over seeds per strategy with the 25–75 % band."""
    go = _go()
    fig = go.Figure()
    for strategy, part in sorted(curves.groupby("strategy"), key=lambda kv: str(kv[0])):
        stats = part.groupby("n")[column].agg([("median", "median"), ("q25", lambda s: s.quantile(0.25)), ("q75", lambda s: s.quantile(0.75)), ("k", "count")])
        color = colors[str(strategy)]
        n_seeds = part["seed"].nunique()
        fig.add_trace(go.Scatter(x=np.concatenate([stats.index, stats.index[::-1]]), y=np.concatenate([stats["q75"], stats["q25"][::-1]]), fill="toself", fillcolor=_alpha(color, 0.18), line={"width": 0}, hoverinfo="skip", showlegend=False, name=f"{strategy} IQR"))
        fig.add_trace(go.Scatter(x=stats.index, y=stats["median"], mode="lines", name=f"{strategy} ({n_seeds} seeds)", line={"color": color, "width": 2}))
    return styled(fig, title=title, x="experiments run (count)", y=y_label)


def _alpha(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"
