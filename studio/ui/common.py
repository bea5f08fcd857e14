"""What the pages share: the run picker (kept in the URL, so a second tab can watch the same run), one cached
watcher per run for every tab, status badges and readable numbers."""

from __future__ import annotations

import re
import time

import streamlit as st

import worlds
from studio.runs import RunInfo, RunStatus, list_runs
from studio.watch import RunWatcher

STATE_BADGES = {"starting": ("blue", "Starting", ":material/hourglass_top:"),
                "running": ("green", "Training", ":material/play_arrow:"),
                "paused": ("orange", "Paused", ":material/pause:"),
                "stopping": ("orange", "Stopping", ":material/hourglass_bottom:"),
                "completed": ("gray", "Completed", ":material/check_circle:"),
                "stopped": ("gray", "Stopped", ":material/stop_circle:"),
                "failed": ("red", "Failed", ":material/error:")}
PRESET_LABELS = {"dense": "Dense reference", "clip": "CLIP prompt", "clip-shaping": "CLIP + shaping",
                 "sparse-shaping": "Sparse + shaping"}


@st.cache_resource(max_entries=32, show_spinner=False)
def watcher(run_dir: str) -> RunWatcher:
    """One incremental reader per run, shared by every tab and page that shows it."""
    return RunWatcher(run_dir)


def world_name(world_id: str) -> str:
    return world_id.split("/")[-1].removesuffix("-v0")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:30]


def run_name(info: RunInfo) -> str:
    """The run's name (the reward preset for runs started here): the part of the run id after world and
    algorithm, ``<time>-<world>-<algo>-<name>-<4 hex>`` (see :func:`studio.runs.new_run`)."""
    marker = f"-{_slug(info.world_id.split('/')[-1])}-{_slug(info.algo)}-"
    _, found, rest = info.run_id.partition(marker)
    return rest[:-5] if found and len(rest) > 5 else ""


def run_title(info: RunInfo) -> str:
    """``Push · CLIP + shaping · PPO`` for a run of the Push world named after the clip_shaping preset."""
    name = run_name(info)
    return " · ".join(x for x in (world_name(info.world_id), PRESET_LABELS.get(name, name), info.algo.upper()) if x)


def run_label(info: RunInfo) -> str:
    """What run pickers show: title, start time, and the state once the run has finished."""
    started = time.strftime("%d %b %H:%M", time.localtime(info.created))
    state = f" ({STATE_BADGES.get(info.status.state, ('', info.status.state))[1].lower()})" if info.status.finished \
        else ""
    return f"{run_title(info)} — {started}{state}"


def badge(status: RunStatus) -> None:
    color, text, icon = STATE_BADGES.get(status.state, ("gray", status.state, None))
    st.badge(text, icon=icon, color=color)


def runs() -> list[RunInfo]:
    """Runs on disk, newest first (active runs first)."""
    found = list_runs()
    return sorted(found, key=lambda r: (not r.status.active, -r.created))


def pick_run(label: str, key: str, infos: list[RunInfo] | None = None, container=st,
             help: str | None = None) -> RunInfo | None:
    """A run picker shared by the pages through the URL's ``?run=`` (another tab with the same URL watches the
    same run). Default: the run in the URL, else the newest active run, else the newest run. A URL naming a run
    that is not on disk (a link from another machine, a deleted run) says so in a toast and shows the default."""
    infos = runs() if infos is None else infos
    if not infos:
        return None
    ids = [r.run_id for r in infos]
    wanted = st.query_params.get("run") or st.session_state.get("run_id")
    if wanted not in ids:
        if st.query_params.get("run"):
            asked = str(st.query_params.get("run")).replace("`", "'")      # shown as code, not as Markdown
            st.toast(f"No run `{asked}` on this machine (the address's ?run=); showing {ids[0]}. The Runs page "
                     f"lists every run on disk.", icon=":material/search_off:")
        wanted = ids[0]
    select_run(wanted)
    if st.session_state.get(key) != wanted:
        st.session_state[key] = wanted            # follow the URL or a run just started in this tab
    by_id = {r.run_id: r for r in infos}
    container.selectbox(label, ids, key=key, format_func=lambda i: run_label(by_id[i]), help=help,
                        on_change=lambda: select_run(st.session_state[key]))
    return by_id[st.session_state[key]]


def select_run(run_id: str) -> None:
    """Make ``run_id`` the run every page shows (and put it in the URL)."""
    st.session_state.run_id = run_id
    if st.query_params.get("run") != run_id:
        st.query_params["run"] = run_id


def fmt_int(n: float | int | None) -> str:
    return "—" if n is None else f"{int(n):,}"


def fmt(x: float | None, spec: str = ".2f") -> str:
    return "—" if x is None else format(x, spec)


def task_names(family: str) -> list[str]:
    return [w for w in worlds.world_ids() if worlds.WORLDS[w].family == family and w != "studio/HumanoidPoses-v0"]


__all__ = ["badge", "fmt", "fmt_int", "pick_run", "run_label", "run_title", "runs", "select_run", "task_names",
           "watcher", "world_name"]
