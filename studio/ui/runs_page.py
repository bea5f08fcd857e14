"""The Runs page: every run on this machine, one run opened in full, or two side by side (curves and videos).

Runs are folders on disk (``$STUDIO_RUNS_DIR`` or ``runs/``), so this page finds runs started from the CLI,
from another tab, or before the last restart, and the videos are played from each run's latest checkpoint.
"""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from studio.rollout import checkpoints, policy_episode
from studio.runs import RunInfo, RunPaths
from studio.session import Session
from studio.ui import charts
from studio.ui.common import STATE_BADGES, badge, fmt, fmt_int, run_label, run_title, runs, select_run, watcher

VIDEO_SEED = 10_000


@st.cache_resource(show_spinner=False)
def _videos() -> dict:
    """Played policy videos by (run folder, checkpoint, seed), shared by every tab (a plain dict: the progress
    bar drawn while one is made must not be replayed from a cache)."""
    return {}


def _policy_video(run_dir: str, checkpoint: str, seed: int, progress=None) -> dict:
    key = (run_dir, checkpoint, seed)
    store = _videos()
    if key not in store:
        episode = policy_episode(run_dir, checkpoint, seed, size=320, progress=progress)
        if len(store) >= 16:
            store.pop(next(iter(store)))
        store[key] = {"mp4": episode.mp4(fps=20), "success": episode.succeeded,
                      "world_return": episode.world_return, "checkpoint": episode.checkpoint}
    return store[key]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _table(infos: list[RunInfo]) -> None:
    rows = [{"run": run_title(r), "started": time.strftime("%d %b %H:%M", time.localtime(r.created)),
             "state": STATE_BADGES.get(r.status.state, ("", r.status.state))[1],
             "steps": r.status.step, "of": r.status.total_steps, "reward version": f"v{r.status.spec_version}",
             "id": r.run_id} for r in infos]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
                 column_config={"steps": st.column_config.ProgressColumn(
                     "steps", format="compact", min_value=0, max_value=max(r.status.total_steps for r in infos)),
                     "of": st.column_config.NumberColumn("total steps", format="compact")})


def _headline(view, container=st) -> None:
    m1, m2, m3 = container.columns(3)
    success = view.recent_success()
    m1.metric("Success (ground truth)", "—" if success is None else f"{100 * success:.0f}%",
              help="Last 50 finished episodes, judged by the world's own success test.")
    m2.metric("Learned return", fmt(view.recent_return()))
    m3.metric("Reference return", fmt(view.recent_return(world=True)))


def _open_run(info: RunInfo) -> None:
    from studio.ui.nav import page

    view = watcher(str(info.path)).refresh()
    head, state = st.columns([4, 1], vertical_alignment="center")
    head.subheader(run_title(info))
    with state:
        badge(view.status)
    st.caption(f"Run `{info.run_id}` · world `{info.world_id}` · {info.algo.upper()} · "
               f"{fmt_int(view.status.step)} of {fmt_int(view.status.total_steps)} steps · "
               f"{_plural(len(checkpoints(RunPaths(info.path))), 'checkpoint')}")
    if view.status.state == "failed":
        st.error(f"This run failed: {view.status.reason}", icon=":material/error:")
    _headline(view)
    left, right = st.columns(2)
    with left:
        st.markdown("**Learned return vs ground-truth success**")
        st.altair_chart(charts.outcome_chart(view), width="stretch")
    with right:
        st.markdown("**Reward terms per step**")
        st.altair_chart(charts.term_chart(view), width="stretch")
    if view.edits:
        st.markdown("**Reward edits**\n" + "\n".join(
            f"- v{e['new_version']} from step {fmt_int(e.get('step'))}"
            + (f", EPIC distance {e['epic_distance']:.3f}" if e.get("epic_distance") is not None else "")
            + (f": {e['note']}" if e.get("note") else "") for e in view.edits))
    c1, c2 = st.columns([1, 3])
    if c1.button("Watch in the Studio", icon=":material/monitoring:", key="runs_watch"):
        select_run(info.run_id)
        st.switch_page(page("studio"), query_params={"run": info.run_id})
    if view.status.active and c2.button("Stop this run", icon=":material/stop:", key="runs_stop"):
        try:
            session = Session.attach(info.path)
            session.stop("stopped from the Runs page")
            with st.spinner("Saving a checkpoint and stopping..."):
                session.wait(60)
        except (RuntimeError, TimeoutError):
            pass
        st.rerun()


def _compare(infos: list[RunInfo]) -> None:
    if len(infos) < 2:
        st.info("Comparing needs two runs; start another on the Studio page.", icon=":material/info:")
        return
    by_id = {r.run_id: r for r in infos}
    ids = list(by_id)
    a_col, b_col = st.columns(2, gap="large")
    a = a_col.selectbox("Run A", ids, index=0, format_func=lambda i: run_label(by_id[i]), key="cmp_a")
    b = b_col.selectbox("Run B", ids, index=1, format_func=lambda i: run_label(by_id[i]), key="cmp_b")
    views = {k: watcher(str(by_id[k].path)).refresh() for k in (a, b)}
    x_max = max(float(v.status.step) for v in views.values())
    for col, run_id in ((a_col, a), (b_col, b)):
        view = views[run_id]
        with col:
            st.markdown(f"**{run_title(by_id[run_id])}**")
            badge(view.status)
            _headline(view)
            st.altair_chart(charts.outcome_chart(view, x_max=x_max), width="stretch")
            st.altair_chart(charts.term_chart(view, x_max=x_max, height=260), width="stretch")
    st.subheader("Their policies, same scene")
    st.caption(f"One episode of each run's latest checkpoint, on the same seed ({VIDEO_SEED}).")
    if st.button("Play both policies", icon=":material/play_circle:", key="cmp_play"):
        bar = st.progress(0.0, text="Playing run A's policy...")
        for n, run_id in enumerate((a, b)):
            paths = RunPaths(by_id[run_id].path)
            ckpts = checkpoints(paths)
            if not ckpts:
                continue
            label = "AB"[n]
            _policy_video(str(paths.root), str(ckpts[-1]), VIDEO_SEED,
                          progress=lambda f, n=n, label=label: bar.progress((n + f) / 2,
                                                                             text=f"Playing run {label}'s policy..."))
        bar.empty()
        st.session_state.cmp_played = (a, b)
    v1, v2 = st.columns(2, gap="large")
    for col, run_id in ((v1, a), (v2, b)):
        paths = RunPaths(by_id[run_id].path)
        ckpts = checkpoints(paths)
        with col:
            if not ckpts:
                st.info("No checkpoint yet: press **Save** on the Studio page, or stop the run.",
                        icon=":material/info:")
            elif st.session_state.get("cmp_played") == (a, b):
                video = _policy_video(str(paths.root), str(ckpts[-1]), VIDEO_SEED)
                st.video(video["mp4"], loop=True, autoplay=True, muted=True)
                st.caption(f"{video['checkpoint']}: {'success' if video['success'] else 'no success'} · "
                           f"reference return {video['world_return']:.1f}")


def render() -> None:
    st.title("Runs")
    infos = runs()
    if not infos:
        st.info("No runs yet. Start one on the **Studio** page (or with `python -m studio train`).",
                icon=":material/info:")
        return
    opened, compare = st.tabs(["Runs", "Compare two runs"])
    with opened:
        _table(infos)
        by_id = {r.run_id: r for r in infos}
        ids = list(by_id)
        wanted = st.session_state.get("run_id")
        run_id = st.selectbox("Open run", ids, index=ids.index(wanted) if wanted in ids else 0,
                              format_func=lambda i: run_label(by_id[i]), key="runs_open")
        _open_run(by_id[run_id])
    with compare:
        _compare(infos)
