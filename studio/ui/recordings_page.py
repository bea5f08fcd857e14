"""The Recordings page: every recorded episode of every run, filtered by success and reward version, played as
a video beside its per-term rewards; evaluation episodes of a checkpoint recorded on request; a recording
exported as a zip or opened in a notebook with plain Minari.

Recordings are folders on disk (``runs/<id>/recordings/``), so this page finds recordings made from the
CLI as well. A recording that was not closed cleanly says so, with a Repair button (see
:mod:`studio.recording.health`).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from studio.recording import health, reader
from studio.recording.evaluate import record_checkpoint
from studio.recording.layout import RecordingPaths
from studio.recording.writer import RecordingError
from studio.rollout import checkpoints
from studio.runs import RunPaths, runs_root
from studio.ui.common import run_title, runs, select_run

SUCCESS_FILTERS = {"all": "All", "succeeded": "Succeeded", "failed": "Failed"}


@st.cache_data(max_entries=64, show_spinner=False)
def _episode_steps(folder: str, episode: int, mtime: float) -> pd.DataFrame:
    return reader.episode_steps(RecordingPaths.from_folder(folder), episode)


def _video_bytes(path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _step_chart(frame: pd.DataFrame) -> alt.LayerChart:
    terms = frame[frame.series != "is_success"]
    success = frame[frame.series == "is_success"]
    x = alt.X("step:Q", title="step")
    lines = alt.Chart(terms).mark_line(strokeWidth=2).encode(
        x=x, y=alt.Y("value:Q", title="reward per step"),
        color=alt.Color("series:N", title=None, legend=alt.Legend(orient="top")),
        strokeDash=alt.condition(alt.datum.series == "reward", alt.value([5, 3]), alt.value([1, 0])),
        tooltip=["series:N", "step:Q", alt.Tooltip("value:Q", format=".4f")])
    area = alt.Chart(success).mark_area(color="#2e9e5b", opacity=0.2, interpolate="step-after").encode(
        x=x, y=alt.Y("value:Q", title="ground-truth success", scale=alt.Scale(domain=[0, 1]),
                     axis=alt.Axis(format="%", titleColor="#2e9e5b")))
    return alt.layer(area, lines).resolve_scale(y="independent").properties(height=300)


def _record_form(run_infos) -> None:
    with st.expander("Record evaluation episodes of a checkpoint", icon=":material/fiber_manual_record:"):
        with_ckpt = [r for r in run_infos if checkpoints(RunPaths(r.path))]
        if not with_ckpt:
            st.caption("No run has a checkpoint yet. Save one on the Studio page while a run trains.")
            return
        with st.form("record_eval", border=False):
            by_id = {r.run_id: r for r in with_ckpt}
            run_id = st.selectbox("Run", list(by_id), format_func=lambda i: f"{run_title(by_id[i])} — {i}")
            ckpts = [p.name for p in checkpoints(RunPaths(by_id[run_id].path))]
            ckpt = st.selectbox("Checkpoint", ckpts[::-1], help="Newest first.")
            cols = st.columns(2)
            n = cols[0].number_input("Episodes", 1, 200, 5)
            seed = cols[1].number_input("First seed", 0, 2**31 - 1, 10_000, help="Episode k is seeded seed + k.")
            go = st.form_submit_button("Record", type="primary", icon=":material/fiber_manual_record:")
        if go:
            bar = st.progress(0.0, text="Playing the checkpoint...")
            try:
                result = record_checkpoint(by_id[run_id].path, int(n), ckpt, int(seed),
                                           progress=lambda d, t: bar.progress(d / t, text=f"episode {d} of {t}"))
            except (RecordingError, FileNotFoundError, OSError, ValueError) as err:
                st.error(f"Nothing was recorded: {err}", icon=":material/error:")
                return
            bar.empty()
            st.success(f"Recorded {result.episodes} episodes ({result.successes} succeeded) as "
                       f"`{result.paths.dataset_id}`.", icon=":material/check_circle:")
            st.session_state["recording"] = str(result.paths.folder)


def _health(info: reader.RecordingInfo, active: bool) -> bool:
    """Show what is wrong (with a Repair button); True when the recording can be read."""
    repaired = st.session_state.pop("repaired", None)
    if repaired:
        st.success(repaired, icon=":material/build:")
    h = info.health
    if h.ok:
        return True
    if active and h.repairable:
        st.info("This run is still recording; its newest episode is being written.", icon=":material/info:")
        return True
    if not h.repairable:
        st.error(h.message, icon=":material/error:")
        return False
    st.warning(h.message, icon=":material/build:")
    if st.button("Repair", icon=":material/build:", key=f"repair_{info.paths.folder}"):
        fixed = health.repair(info.paths)
        if fixed.ok:
            st.session_state["repaired"] = "Repaired: " + "; ".join(fixed.fixes) + "."
            st.rerun()
        st.error(fixed.message, icon=":material/error:")
    return False


def _episodes(info: reader.RecordingInfo) -> None:
    table = reader.episodes_table(info.paths)
    if table.empty:
        st.info("No finished episode yet: episodes are written when they end.", icon=":material/hourglass_top:")
        return
    f1, f2, f3 = st.columns([1, 2, 1])
    outcome = f1.segmented_control("Outcome", list(SUCCESS_FILTERS), format_func=SUCCESS_FILTERS.get,
                                   default="all", key="rec_outcome")
    versions = sorted({v for vs in table.spec_versions for v in (vs or [])})
    chosen = f2.multiselect("Reward versions", versions, default=versions, format_func=lambda v: f"v{v}",
                            key=f"rec_versions_{info.paths.folder}")
    only_video = f3.toggle("Only filmed episodes", key="rec_only_video")
    shown = table
    if outcome == "succeeded":
        shown = shown[shown.success]
    elif outcome == "failed":
        shown = shown[~shown.success]
    shown = shown[[bool(set(vs or []) & set(chosen)) for vs in shown.spec_versions]]
    if only_video:
        shown = shown[shown.video.notna()]
    shown = shown.iloc[::-1]                    # newest first: the end of training is what people look for
    st.caption(f"{len(shown)} of {len(table)} episodes · success {table.success.mean():.0%} overall · "
               f"{table.video.notna().sum()} filmed")
    if shown.empty:
        st.info("No episode matches these filters.", icon=":material/filter_alt_off:")
        return
    tags = [t for t in reader.EPISODE_TAGS if t in shown.columns]     # e.g. the curriculum's lesson
    # Training episodes after an env's first reset carry no seed of their own (they go on with its random
    # stream): a column of "None" says nothing, so the seed is shown only where some episode of the recording has
    # one (whatever the filters keep, so the columns stay put).
    seeded = ["seed"] if table.seed.notna().any() else []
    view = shown[["episode", "steps", "return", "success", "versions", *tags, "env_index", *seeded]].rename(
        columns={"env_index": "env", "versions": "reward versions"})
    if "lesson" in view:        # counted from 1, as the Studio page says it; the data counts from 0 (-1: before)
        view["lesson"] = [("" if pd.isna(v) or v < 0 else str(int(v) + 1)) for v in shown.lesson]
    view.insert(1, "video", shown.video.notna().map({True: "▶", False: ""}))
    picked = st.dataframe(view, hide_index=True, width="stretch", height=240, on_select="rerun",
                          selection_mode="single-row", key=f"rec_table_{info.paths.folder}",
                          column_config={"return": st.column_config.NumberColumn(format="%.3f"),
                                         "success": st.column_config.CheckboxColumn()})
    rows = picked.selection.rows if picked and picked.selection else []
    row = shown.iloc[rows[0]] if rows else (shown[shown.video.notna()].iloc[0] if shown.video.notna().any()
                                            else shown.iloc[0])
    _episode(info, row)


def _episode(info: reader.RecordingInfo, row: pd.Series) -> None:
    episode = int(row.episode)
    st.subheader(f"Episode {episode}")
    left, right = st.columns([2, 3])
    with left:
        video = _video_bytes(info.paths.video(episode)) if isinstance(row.video, str) else None
        if video:
            st.video(video, format="video/mp4", loop=True, autoplay=True, muted=True)
        else:
            st.caption("This episode was not filmed (training recordings film every 10th episode of env 0; "
                       "evaluation recordings film every episode).")
        outcome = ":green[:material/check_circle: succeeded]" if row.success else \
            ":red[:material/cancel: did not succeed]"
        st.markdown(f"{outcome} · return **{row['return']:.3f}** · "
                    f"{int(row.steps)} steps · reward {row.versions}")
    with right:
        frame = _episode_steps(str(info.paths.folder), episode, info.paths.metadata.stat().st_mtime)
        st.altair_chart(_step_chart(frame), width="stretch")


def _notebook(info: reader.RecordingInfo) -> None:
    with st.expander("Open in a notebook", icon=":material/code:"):
        st.code(f"""import os, minari
os.environ["MINARI_DATASETS_PATH"] = "{info.paths.root}"
dataset = minari.load_dataset("{info.paths.dataset_id}")
episode = dataset[0]           # observations, actions, rewards, terminations, truncations, infos
episode.infos["is_success"], episode.infos["spec_version"]   # per-term rewards: infos["reward_<term>"]""",
                language="python")
        st.caption("`examples/analyse_recording.py` plots per-term rewards against success with matplotlib.")


def render() -> None:
    st.title("Recordings")
    run_infos = runs()
    active = {r.run_id for r in run_infos if r.status.active}
    found = reader.list_recordings(runs_root(), live_runs=active)
    _record_form(run_infos)
    if not found:
        st.info("No recordings yet. Switch on **Record episodes** before starting a run on the Studio page, or "
                "record evaluation episodes of a checkpoint above (CLI: `python -m studio record --run <id> "
                "--episodes 10`).", icon=":material/video_library:")
        return
    by_folder = {str(r.paths.folder): r for r in found}
    titles = {r.run_id: run_title(r) for r in run_infos}
    wanted = st.session_state.get("recording")
    if wanted not in by_folder:
        in_url = [k for k, r in by_folder.items() if r.run_id == st.query_params.get("run")]
        wanted = in_url[0] if in_url else next(iter(by_folder))
    folder = st.selectbox("Recording", list(by_folder), index=list(by_folder).index(wanted),
                          format_func=lambda k: f"{titles.get(by_folder[k].run_id, by_folder[k].run_id)} · "
                                                f"{by_folder[k].paths.name} · {by_folder[k].health.episodes} episodes")
    st.session_state["recording"] = folder
    info = by_folder[folder]
    if st.query_params.get("run") != info.run_id:
        select_run(info.run_id)
    meta = info.metadata
    started = time.strftime("%d %b %H:%M", time.localtime(info.paths.folder.stat().st_mtime))
    st.caption(f"`{info.paths.dataset_id}` · run `{info.run_id}` · {meta.get('world_id', '?')} · "
               f"{meta.get('kind', '?')} · {len(meta.get('reward_specs', []))} reward version(s) · "
               f"{info.health.steps:,} steps · {info.size_bytes / 1e6:.1f} MB · updated {started}")
    if not _health(info, info.run_id in active):
        return
    _episodes(info)
    c1, c2 = st.columns(2)
    with c1:
        _notebook(info)
    with c2:
        if st.button("Export as zip", icon=":material/download:", key="export_zip"):
            try:
                target = Path(tempfile.gettempdir()) / f"studio-{info.run_id}-{info.paths.name}.zip"
                path = reader.export_zip(info.paths, target)
                st.download_button("Download the zip", path.read_bytes(), file_name=f"{info.paths.name}.zip",
                                   mime="application/zip", icon=":material/download:", type="primary")
            except (RecordingError, OSError) as err:
                st.error(f"Export failed: {err}", icon=":material/error:")
