"""The Reward editor page: change a training run's reward while it learns.

Goal and baseline prompts, alpha, each term's weight and on/off switch, in one form. Apply validates the new
spec (a bad prompt or number is named on the page, nothing is sent), hands it to the run's worker, which makes
it the next version at the next env step, and shows the EPIC distance between the previous reward and the new
one as soon as the worker has computed it. Below: every version with what changed.
"""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from agents.vlm.captions import PROMPT_HELP
from studio.runs import RunInfo
from studio.session import Session
from studio.spec import ClipTermSpec, RewardSpec, ShapingTermSpec, SpecError, WorldTermSpec
from studio.ui.common import badge, fmt_int, pick_run, run_title, runs, watcher
from studio.versions import diff_specs, history, readable_errors, spec_from_form, yaml_diff
from studio.watch import wait_for_edit

EPIC_HELP = ("EPIC distance (Gleave et al. 2021) between the previous reward and the new one, on this run's "
             "recent transitions: 0 means they rank every behaviour the same way (up to shaping and scale), "
             "about 0.71 means unrelated, 1 means opposite.")
KIND_TITLES = {"world": "world term", "clip": "CLIP prompt", "shaping": "potential shaping"}


def _term_inputs(term, i: int, prefix: str) -> dict:
    """The widgets of one term inside the form; returns its edited values as a plain dict."""
    data = term.model_dump(mode="json")
    with st.container(border=True):
        head, on, weight = st.columns([3, 1, 2], vertical_alignment="bottom")
        head.markdown(f"**{term.term_name}** · {KIND_TITLES.get(term.kind, term.kind)}"
                      + (f" `{term.key}`" if isinstance(term, WorldTermSpec) and term.key != term.term_name else ""))
        data["enabled"] = on.toggle("On", value=term.enabled, key=f"{prefix}_{i}_on")
        data["weight"] = weight.number_input("Weight", -1e6, 1e6, float(term.weight), step=0.1, format="%g",
                                             key=f"{prefix}_{i}_weight")
        if isinstance(term, ClipTermSpec):
            data["goal_prompts"] = st.text_area("Goal prompts (one per line)", "\n".join(term.goal_prompts),
                                                height=68, key=f"{prefix}_{i}_goal", help=PROMPT_HELP)
            data["baseline_prompts"] = st.text_area("Baseline prompts (as many lines as goals)",
                                                    "\n".join(term.baseline_prompts), height=68,
                                                    key=f"{prefix}_{i}_base")
            data["alpha"] = st.slider("α (0: cosine to the goal, 1: only the baseline-to-goal direction)", 0.0,
                                      1.0, float(term.alpha), 0.05, key=f"{prefix}_{i}_alpha")
        elif isinstance(term, ShapingTermSpec):
            st.caption(f"φ = {term.potential.replace('_', ' ')}, γ = {term.gamma:g}: shaping changes how fast an "
                       "agent learns, not what it should want (EPIC distance about 0).")
    return data


def _apply(session: Session, current: RewardSpec, terms: list[dict], note: str) -> None:
    try:
        spec = spec_from_form(terms, note)
    except SpecError as err:
        st.error("This reward cannot be applied:\n" + "\n".join(f"- {line}" for line in readable_errors(err, terms)),
                 icon=":material/error:")
        return
    if not diff_specs(current, spec):
        st.info(f"Nothing to apply: this is reward v{current.version} as it is.", icon=":material/info:")
        return
    try:
        with st.spinner("Sending the new reward to the trainer..."):
            command = session.apply_spec(spec)
            event = wait_for_edit(session.paths, command, timeout=30)
    except SpecError as err:
        st.error("This reward cannot be applied:\n" + "\n".join(f"- {line}" for line in readable_errors(err, terms)),
                 icon=":material/error:")
        return
    except RuntimeError as err:          # the run finished meanwhile
        st.error(f"The edit was not sent: {err}.", icon=":material/error:")
        return
    if event is None:
        st.warning("The trainer has not confirmed the edit yet (it may be in a long update); it applies at its "
                   "next step and the history below will show it.", icon=":material/schedule:")
    elif event["type"] == "edit":
        st.session_state.last_edit = {"run": session.run_id, **event}
        st.rerun()                       # rebuild the form from the new version
    else:
        st.error(f"The trainer refused the edit: {event.get('error')}", icon=":material/error:")


def _distance_readout(info: RunInfo) -> None:
    last = st.session_state.get("last_edit")
    if not last or last.get("run") != info.run_id:
        return

    def readout():
        view = watcher(str(info.path)).refresh()
        edit = next((e for e in view.edits if e.get("new_version") == last["new_version"]), last)
        st.success(f"Applied as reward **v{edit['new_version']}** from step {fmt_int(edit.get('step'))} "
                   f"(in {edit.get('latency_s', 0):.2f} s).", icon=":material/check_circle:")
        d = edit.get("epic_distance")
        value = f"{d:.3f}" if d is not None else ("n/a" if edit.get("epic_error") else "computing...")
        st.metric(f"EPIC distance v{edit['old_version']} → v{edit['new_version']}", value, help=EPIC_HELP)
        if edit.get("epic_error"):
            st.caption(f"EPIC could not be computed: {edit['epic_error']}")
        if d is not None or edit.get("epic_error") or time.time() - edit.get("t", 0) > 60:
            st.session_state.last_edit = {**last, "done": True}
    st.fragment(readout, run_every=None if last.get("done") else 0.5)()


def _history(session: Session, info: RunInfo) -> None:
    st.subheader("Version history")
    specs = session.specs()
    if not specs:
        st.caption("The first version appears once the worker has started.")
        return
    view = watcher(str(info.path)).refresh()
    rows = history(specs, view.edits)
    table = pd.DataFrame([{
        "version": f"v{r['version']}", "from step": r["step"],
        "applied": time.strftime("%H:%M:%S", time.localtime(r["created_at"])) if r["created_at"] else "",
        "EPIC to previous": "—" if r["epic_distance"] is None else f"{r['epic_distance']:.3f}",
        "note": r["note"], "changes": "; ".join(r["changes"])} for r in rows])
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={"EPIC to previous": st.column_config.TextColumn(help=EPIC_HELP),
                                "from step": st.column_config.NumberColumn(format="localized"),
                                "changes": st.column_config.TextColumn(width="large")})
    for row, spec, prev in reversed(list(zip(rows, specs, [None, *specs[:-1]]))):
        if prev is None:
            continue
        d = row["epic_distance"]
        label = f"v{prev.version} → v{spec.version} at step {row['step']:,}" + (f" · EPIC {d:.3f}" if d is not None
                                                                                else "")
        with st.expander(label):
            st.markdown("\n".join(f"- {c}" for c in row["changes"]))
            st.code(yaml_diff(prev, spec), language="diff")


def render() -> None:
    st.title("Reward editor")
    infos = runs()
    if not infos:
        st.info("No runs yet. Start one on the **Studio** page, then change its reward here while it trains.",
                icon=":material/info:")
        return
    info = pick_run("Run", key="editor_run", infos=infos)
    session = Session.attach(info.path)
    status = session.status()
    current = session.current_spec()
    head, state = st.columns([4, 1], vertical_alignment="center")
    head.subheader(f"{run_title(info)} · reward v{current.version}")
    with state:
        badge(status)
    left, right = st.columns([3, 2], gap="large")
    with left:
        if not status.active:
            st.info("This run has finished, so its reward can no longer change. Its history is on the right; "
                    "start a new run on the Studio page to experiment.", icon=":material/lock:")
        else:
            prefix = f"ed_{info.run_id}_{current.version}"
            with st.form(f"{prefix}_form", border=False):
                terms = [_term_inputs(t, i, prefix) for i, t in enumerate(current.terms)]
                note = st.text_input("Note (shown beside the edit in the charts)", key=f"{prefix}_note",
                                     max_chars=200, placeholder="e.g. asked for the cube next to the pad")
                submitted = st.form_submit_button(f"Apply as v{current.version + 1}", type="primary",
                                                  icon=":material/published_with_changes:")
            if submitted:
                _apply(session, current, terms, note)
    with right:
        _distance_readout(info)
        st.caption("Apply makes a new version of the reward: the agent is rewarded by it from the next step, and "
                   "the charts on the Studio page mark the edit. " + EPIC_HELP)
    _history(session, info)
