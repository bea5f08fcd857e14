"""Altair charts of a run: per-term rewards and learned return against ground-truth success, with a dashed
marker at every reward edit (its version and EPIC distance in the label and tooltip); and grouped percentage
bars that compare agents on the same measures.

Heights are of the whole chart, axes and legend included (Streamlit fits Vega charts into them).
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from studio.watch import RunView

EDIT_COLOR = "#6b6b6b"
SUCCESS_COLOR = "#2e9e5b"
RETURN_COLORS = {"learned return": "#2f6fde", "reference return": "#9a9a9a"}


def edits_frame(edits: list[dict]) -> pd.DataFrame:
    """One row per applied edit: step, label (``v2 · EPIC 0.31``), note."""
    rows = []
    for e in edits:
        d = e.get("epic_distance")
        epic = f"EPIC {d:.2f}" if d is not None else ("EPIC n/a" if e.get("epic_error") else "EPIC …")
        rows.append({"step": e.get("step", 0), "label": f"v{e.get('new_version')} · {epic}",
                     "note": e.get("note") or "", "version": f"v{e.get('old_version')} → v{e.get('new_version')}"})
    return pd.DataFrame(rows, columns=["step", "label", "note", "version"])


def _with_edits(chart: alt.Chart, edits: list[dict], x_domain: list[float]) -> alt.LayerChart | alt.Chart:
    frame = edits_frame(edits)
    if frame.empty:
        return chart
    base = alt.Chart(frame).encode(x=alt.X("step:Q", scale=alt.Scale(domain=x_domain)),
                                   tooltip=[alt.Tooltip("version:N", title="edit"), alt.Tooltip("label:N", title=" "),
                                            alt.Tooltip("step:Q", title="at step", format=","),
                                            alt.Tooltip("note:N", title="note")])
    rules = base.mark_rule(color=EDIT_COLOR, strokeDash=[5, 4], strokeWidth=1.5)
    labels = base.mark_text(align="left", dx=4, dy=2, baseline="top", fontSize=11, color=EDIT_COLOR).encode(
        y=alt.value(2), text="label:N")
    return alt.layer(chart, rules, labels)


def _domain(*frames: pd.DataFrame, edits: list[dict] = (), x_max: float | None = None) -> list[float]:
    if x_max:
        return [0.0, float(x_max)]
    hi = max([float(f["step"].max()) for f in frames if len(f)] + [float(e.get("step", 0)) for e in edits] + [1.0])
    return [0.0, hi]


def term_chart(view: RunView, height: int = 280, x_max: float | None = None) -> alt.LayerChart | alt.Chart:
    """Each reward term's weighted value per env step (mean over the step bin), one line per term."""
    curves = view.term_curves()
    domain = _domain(curves, edits=view.edits, x_max=x_max)
    chart = alt.Chart(curves).mark_line(strokeWidth=2, interpolate="monotone").encode(
        x=alt.X("step:Q", title="env steps", scale=alt.Scale(domain=domain), axis=alt.Axis(format="~s")),
        y=alt.Y("value:Q", title="reward per step"),
        color=alt.Color("term:N", title=None, legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("term:N"), alt.Tooltip("step:Q", format=","), alt.Tooltip("value:Q", format=".3f")])
    return _with_edits(chart, view.edits, domain).properties(height=height)


def outcome_chart(view: RunView, height: int = 300, x_max: float | None = None) -> alt.LayerChart:
    """Episode return under the learned reward (and the world's reference reward) on the left axis, the
    ground-truth success rate on the right: a return that climbs while success stays flat is reward hacking."""
    ep = view.episodes
    frame = ep if len(ep) else pd.DataFrame({"step": [], "return": [], "world_return": [], "success": []})
    domain = _domain(frame, edits=view.edits, x_max=x_max)
    returns = frame.rename(columns={"return": "learned return", "world_return": "reference return"})
    cols = [c for c in ("learned return", "reference return") if c in returns]
    long = returns.melt(id_vars=["step"], value_vars=cols, var_name="series", value_name="value").dropna()
    x = alt.X("step:Q", title="env steps", scale=alt.Scale(domain=domain), axis=alt.Axis(format="~s"))
    lines = alt.Chart(long).mark_line(strokeWidth=2, interpolate="monotone").encode(
        x=x, y=alt.Y("value:Q", title="episode return"),
        color=alt.Color("series:N", title=None, legend=alt.Legend(orient="top"),
                        scale=alt.Scale(domain=list(RETURN_COLORS), range=list(RETURN_COLORS.values()))),
        strokeDash=alt.StrokeDash("series:N", legend=None,
                                  scale=alt.Scale(domain=list(RETURN_COLORS), range=[[1, 0], [5, 3]])),
        tooltip=[alt.Tooltip("series:N"), alt.Tooltip("step:Q", format=","), alt.Tooltip("value:Q", format=".2f")])
    success = alt.Chart(frame).mark_area(color=SUCCESS_COLOR, opacity=0.25, line={"color": SUCCESS_COLOR},
                                         interpolate="monotone").encode(
        x=x, y=alt.Y("success:Q", title="success rate", scale=alt.Scale(domain=[0, 1]),
                     axis=alt.Axis(format="%", titleColor=SUCCESS_COLOR)),
        tooltip=[alt.Tooltip("step:Q", format=","), alt.Tooltip("success:Q", format=".0%", title="success")])
    chart = alt.layer(success, lines).resolve_scale(y="independent")
    return _with_edits(chart, view.edits, domain).properties(height=height)


def percent_bars(rows: pd.DataFrame, height: int = 200) -> alt.LayerChart:
    """Grouped horizontal bars of ``rows`` (columns ``measure``, ``agent``, ``value`` in percent): one group per
    measure, one bar per agent, each labelled with its value. Measure names are shown whole (Vega's default
    cuts axis labels at 180 px, which hid what the bars measure)."""
    base = alt.Chart(rows).encode(
        y=alt.Y("measure:N", title=None, sort=None, axis=alt.Axis(labelLimit=0, labelFontSize=13)),
        yOffset=alt.YOffset("agent:N", sort=None),
        x=alt.X("value:Q", title="%", scale=alt.Scale(domain=[0, 100])),
        color=alt.Color("agent:N", title=None, sort=None, legend=alt.Legend(orient="top", labelFontSize=12)),
        tooltip=[alt.Tooltip("agent:N"), alt.Tooltip("measure:N"), alt.Tooltip("value:Q", format=".0f")])
    bars = base.mark_bar()
    labels = base.mark_text(align="left", dx=4, fontSize=12).encode(
        text=alt.Text("value:Q", format=".0f"), color=alt.value("#333333"))
    return alt.layer(bars, labels).properties(height=height)


__all__ = ["edits_frame", "outcome_chart", "percent_bars", "term_chart"]
