"""The Studio page: pick a world, a task and a reward preset, start training, and watch the agent learn.

The sidebar's choices become one :class:`~studio.spec.RunConfig` (:func:`studio.presets.run_config`) handed to
:meth:`Session.start`; training runs in its own worker process, so this page only reads the run folder. The
live view and its step counter refresh themselves in the browser (every frame the worker writes, 6 to 7 a
second while the agent acts; no Streamlit rerun per frame); one fragment refreshes status, numbers and charts
every five seconds and stops once the run has finished. Closing the tab leaves training running; any tab
opened on the same ``?run=`` URL watches the same run.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import streamlit as st

import worlds
from agents.vlm.clip_setting import CLIP_MODEL_ENV, CLIP_MODEL_HELP, STUDIO_SETTING
from agents.vlm.embedder import STUDIO_CHECKPOINT
from studio.frame_relay import FrameRelay
from studio.presets import (AGENT_TITLES, ALGO_TITLES, PRESETS, parse_algo_args, preset_reward, preset_title,
                            presets_for, run_config)
from studio.preview import scene_views
from studio.runs import PROJECT_ROOT, RunInfo, RunPaths
from studio.session import Session
from studio.spec import ClipTermSpec, ShapingTermSpec, SpecError
from studio.ui import charts
from studio.ui.common import (badge, fmt, fmt_int, pick_run, runs, select_run, task_names, watcher,
                              world_name)
from studio.watch import latest_frame_png

LIVE_DIR = PROJECT_ROOT / "static" / "live"
VIDEO_EVERY_S = 0.15      # the live view polls for a new frame this often, in the browser
CHARTS_EVERY_S = 5.0      # status, numbers and charts (each refresh re-renders the page: ~0.2 s of browser CPU)
FAMILIES = {"manipulation": "Manipulation (table-top arm)", "humanoid": "Humanoid (poses)",
            "fastmap": "Object naming (memory agent)"}


# ---------------------------------------------------------------------------------------------- new run
def _new_run_sidebar() -> tuple[dict, bool]:
    """The sidebar's "New run" choices, and whether Start was pressed. Each choice is kept for the session
    (``persist_state="session"``): Streamlit otherwise forgets a widget that a page switch leaves undrawn, and
    the form came back reset after a look at another page."""
    with st.sidebar:
        st.header("New run")
        family = st.selectbox("World", list(FAMILIES), format_func=FAMILIES.get, key="new_family",
                              persist_state="session")
        tasks = task_names(family)
        default = tasks.index("studio/Push-v0") if "studio/Push-v0" in tasks else 0
        world_id = st.selectbox("Task", tasks, index=default, format_func=world_name, key=f"new_task_{family}",
                                persist_state="session")
        st.caption(worlds.WORLDS[world_id].summary)
        keys = [p.key for p in presets_for(world_id)]
        preset = st.selectbox("Reward", keys, format_func=lambda k: preset_title(k, world_id),
                              key=f"new_preset_{world_id}", persist_state="session")
        st.caption(PRESETS[preset].summary)
        if PRESETS[preset].uses_clip and not STUDIO_CHECKPOINT.is_file():
            st.warning(f"The studio CLIP model file `assets/{STUDIO_CHECKPOINT.name}` is missing, so CLIP rewards "
                       "come from random weights and mean nothing. Train it with "
                       "`python -m agents.vlm.train_domain_clip`.", icon=":material/warning:")
        agent = None
        if family == "fastmap":   # dict observations: a memory agent or a baseline, each with its own algorithm
            agent = st.selectbox("Agent", list(AGENT_TITLES), format_func=AGENT_TITLES.get, key="new_agent",
                                 persist_state="session",
                                 help="The dual-coding memory agent, or a baseline from agents.memory.train. The "
                                      "seek-names bonus needs a memory (DCEM or memory off).")
        with st.expander("Training settings"):
            if agent is None:
                algo = st.selectbox("Algorithm", list(ALGO_TITLES), format_func=ALGO_TITLES.get, key="new_algo",
                                    persist_state="session")
            else:
                algo = "recurrent_ppo" if agent == "lstm" else "ppo"
                st.caption(f"Algorithm: {ALGO_TITLES[algo]} (set by the agent)")
            n_envs = st.number_input("Parallel environments", 1, 16, 4, key="new_envs", persist_state="session")
            steps = st.number_input("Training steps", 1_000, 100_000_000, 200_000, step=10_000, key="new_steps",
                                    persist_state="session")
            seed = st.number_input("Seed", 0, 2**31 - 1, 0, key="new_seed", persist_state="session")
            args = st.text_area("Algorithm arguments", key="new_args", persist_state="session", height=80,
                                placeholder="learning_rate: 0.0003\nn_steps: 256",
                                help="Extra constructor arguments for the algorithm, one `name: value` per line.")
            subprocess_envs = st.toggle("Environments in subprocesses", key="new_subproc", persist_state="session",
                                        help="Each environment steps and renders in its own process, beside the "
                                             "trainer: faster for CLIP rewards when cores are free, no faster for "
                                             "the world's own terms (`python -m bench.vec_env` measures both on "
                                             "this machine); about 150 MB of memory per environment.")
            demos = 0
            if family == "manipulation" and algo in ("sac", "ppo"):
                demos = st.number_input("Scripted demonstrations", 0, 1000, 0, step=10, key="new_demos",
                                        persist_state="session",
                                        help="Episodes of the scripted controller, played through this reward "
                                             "before training. SAC: half of every batch is drawn from them, and a "
                                             "reward edit relabels them (or drops them where it cannot, and says "
                                             "so). PPO: it starts cloned from them (policy and value). "
                                             "`python -m bench.clip_push --demos 50` measures what 50 do for one "
                                             "CLIP prompt on push, with its own settings.")
            normalize = False
            if algo == "ppo" and family != "fastmap":
                normalize = st.toggle("Normalise observations and rewards", key="new_normalize",
                                      persist_state="session",
                                      help="PPO learns from observations and rewards normalised by running "
                                           "statistics (SB3's VecNormalize), as `bench.clip_push --algo ppo` "
                                           "trains; checkpoints keep the statistics, and the charts and "
                                           "recordings keep the reward as given.")
            standardize = False
            if algo == "sac":
                standardize = st.toggle("Standardise the reward for the learner", key="new_standardize",
                                        persist_state="session",
                                        help="SAC learns from (reward - mean) / spread, both measured on its own "
                                             "steps when learning starts and again after each reward edit that "
                                             "relabels them; the charts and recordings keep the reward as given. "
                                             "A CLIP reward's "
                                             "constant part (about 0.7 a step) then stays out of the Q-values, as "
                                             "in `bench.clip_push`.")
            clip_model = None          # no CLIP term: the default ($STUDIO_CLIP_MODEL or studio) is recorded
            if PRESETS[preset].uses_clip:
                clip_model = st.text_input("CLIP model", value=os.environ.get(CLIP_MODEL_ENV, ""), key="new_clip_model",
                                           persist_state="session",
                                           placeholder=STUDIO_SETTING, help=CLIP_MODEL_HELP)
        record = st.toggle("Record episodes", key="new_record", persist_state="session",
                           help="Keep every training episode as a Minari dataset, with a video of every 10th "
                                "episode, for the Recordings page and notebooks (about 2 MB per 10,000 steps).")
        started = st.button("Start training", type="primary", width="stretch", icon=":material/play_arrow:",
                            key="start_training")
    return {"world_id": world_id, "preset": preset, "algo": algo, "n_envs": int(n_envs), "total_steps": int(steps),
            "seed": int(seed), "args": args, "record": bool(record), "agent": agent,
            "clip_model": None if clip_model is None else clip_model.strip() or STUDIO_SETTING,
            "subprocess_envs": bool(subprocess_envs), "demos": int(demos),
            "standardize_reward": bool(standardize), "normalize": bool(normalize)}, started


def _start(choice: dict) -> None:
    """Build the run config from the choices and start the worker; errors are shown, never raised."""
    try:
        with st.spinner("Checking the settings and starting the training worker..."):
            algo_kwargs = parse_algo_args(choice.pop("args"), choice["algo"])
            config = run_config(**choice, algo_kwargs=algo_kwargs)
            session = Session.start(config)
    except SpecError as err:
        st.error(f"Training did not start: {err}", icon=":material/error:")
        return
    except (OSError, ValueError) as err:
        st.error(f"Training did not start: {err}", icon=":material/error:")
        return
    select_run(session.run_id)
    st.toast(f"Started {session.run_id}", icon=":material/rocket_launch:")


# ---------------------------------------------------------------------------------------------- watching
def _status(session: Session, status) -> None:
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        badge(status)
        recording = status.recording and not status.recording.get("error")
        st.markdown(f"reward **v{status.spec_version}** · {fmt_int(status.episodes)} episodes"
                    + (" · :red[:material/fiber_manual_record:] recording" if recording else "")
                    + (f" · from {session.config.demos} scripted demonstrations" if session.config.demos else "")
                    + (" · reward standardised for the learner" if session.config.standardize_reward else "")
                    + (" · observations and rewards normalised" if session.config.normalize else "")
                    + (f" · lesson **{status.lesson['index'] + 1}** of {status.lesson['of']}"
                       if status.lesson else "")
                    + (f" · {status.fps:,.0f} steps/s" if status.state == "running" and status.fps else ""),
                    width="content")
    st.progress(min(status.step / max(status.total_steps, 1), 1.0))
    if status.recording and status.recording.get("error"):
        st.warning(status.recording["error"], icon=":material/videocam_off:")
    if status.state == "failed":
        st.error(f"Training failed: {status.reason or 'no reason recorded'}. The worker's log is "
                 f"`{session.paths.log}`.", icon=":material/error:")
    elif status.finished:
        st.info(f"Training {status.state} at step {status.step:,} ({status.reason}). The **Runs** page "
                "compares it with other runs and plays its policy.", icon=":material/flag:")


def _controls(info: RunInfo) -> None:
    """Pause/Resume, Save and Stop. A fragment without a clock: a click reruns only these buttons, and the
    dashboard reruns the page when the run's state changes (so the buttons match it)."""
    session = Session.attach(info.path)

    @st.fragment
    def buttons():
        status = session.status()
        if not status.active:
            return
        with st.container(horizontal=True, gap="small"):
            if status.state == "paused":
                if st.button("Resume", icon=":material/play_arrow:", key="resume"):
                    session.resume()
                    st.toast("Resuming training")
            elif st.button("Pause", icon=":material/pause:", key="pause", disabled=status.state != "running"):
                session.pause()
                st.toast("Pausing at the next step")
            if st.button("Save", icon=":material/save:", key="save",
                         help="Save a checkpoint of the policy now (the Inspect and Runs pages play checkpoints)."):
                session.save_checkpoint()
                st.toast("Saving a checkpoint of the policy")
            stop = st.button("Stop", icon=":material/stop:", key="stop",
                             help="Save a checkpoint and end training. Closing the tab does not stop it.")
        if stop:
            try:
                session.stop("stopped from the studio")
                with st.spinner("Saving a checkpoint and stopping..."):
                    session.wait(60)
            except RuntimeError:
                pass                              # it finished on its own meanwhile
            except TimeoutError:
                st.warning("The worker is still stopping; this page will say when it has.")
            st.rerun(scope="app")
    buttons()


# The live view refreshes itself in the browser: every VIDEO_EVERY_S it asks for the relayed status and, when the
# status names a new frame, fetches that frame and swaps the picture, so a frame costs no Streamlit rerun. Each
# frame has a name of its own, never rewritten (studio/frame_relay.py says why).
LIVE_HTML = """
<div class="studio-live"><img id="{id}" src="{first}" alt="Live view of environment 0" data-frames="0"
  style="width:100%;aspect-ratio:1/1;object-fit:contain;border-radius:0.5rem;background:#e8ebf0;display:block"/>
<p id="{id}-status" style="margin:0.4rem 0 0;font-size:0.875rem;color:#6b6f76;text-align:center">{caption}</p></div>
<script>
(() => {{
  const id = "{id}", folder = "{folder_url}", statusUrl = "{status_url}", every = {every_ms}, total = {total};
  const timers = (window.__studioLive = window.__studioLive || {{}});
  clearTimeout(timers[id]);
  let statusTag = "";
  const run = async () => {{
    const started = performance.now();
    const img = document.getElementById(id), text = document.getElementById(id + "-status");
    if (!img) {{ delete timers[id]; return; }}
    try {{
      const s = await fetch(statusUrl, {{cache: "no-cache"}});
      const tag = s.ok && (s.headers.get("etag") || s.headers.get("last-modified"));
      if (tag && tag !== statusTag) {{
        const st = await s.json();
        statusTag = tag;
        if (st.frame && st.frame !== img.dataset.frame) {{
          const r = await fetch(folder + st.frame);
          if (r.ok) {{
            const old = img.src;
            img.src = URL.createObjectURL(await r.blob());
            if (old.startsWith("blob:")) URL.revokeObjectURL(old);
            img.dataset.frame = st.frame;
            img.dataset.frames = String(Number(img.dataset.frames) + 1);
          }}
        }}
        if (text && st.step !== undefined) {{
          const fps = st.state === "running" && st.fps ?
                      ` · ${{Math.round(st.fps).toLocaleString("en")}} steps/s` : "";
          text.textContent = `Live view of environment 0 · step ${{(st.step || 0).toLocaleString("en")}} of ` +
                             `${{total.toLocaleString("en")}}${{fps}}`;
        }}
      }}
    }} catch (e) {{}}
    // Poll every `every` ms from start to start: a new frame takes two fetches (status, then frame), and waiting a
    // whole period after them showed 13% fewer frames (bench.ui) than the single fetch this replaced.
    timers[id] = setTimeout(run, Math.max(20, every - (performance.now() - started)));
  }};
  timers[id] = setTimeout(run, every);
}})();
</script>
"""
PLACEHOLDER = ("data:image/svg+xml;base64," + base64.b64encode(
    b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4" fill="#e8ebf0"/></svg>'
).decode())


@st.cache_resource(max_entries=64, show_spinner=False)
def _relay(run_dir: str) -> FrameRelay:
    """One relay per run for every tab (see studio/frame_relay.py)."""
    paths = RunPaths(Path(run_dir))
    return FrameRelay(paths.frames / "latest.png", paths.status, LIVE_DIR, paths.run_id)


def _live_view(info: RunInfo) -> None:
    png, _ = latest_frame_png(RunPaths(info.path))
    if not info.status.active:
        if png is not None:
            st.image(png, width="stretch", caption="Last frame of environment 0")
        return
    _relay(str(info.path)).touch()
    first = f"data:image/png;base64,{base64.b64encode(png).decode()}" if png is not None else PLACEHOLDER
    status = info.status
    st.html(LIVE_HTML.format(
        id=f"live-{info.run_id}", first=first, folder_url="/app/static/live/",
        status_url=f"/app/static/live/{info.run_id}.json", every_ms=int(VIDEO_EVERY_S * 1000),
        total=int(status.total_steps), caption=f"Live view of environment 0 · step {status.step:,} of "
                                               f"{status.total_steps:,}"), unsafe_allow_javascript=True)


@st.cache_data(max_entries=32, show_spinner=False)
def _preview(world_id: str, preset: str, seed: int):
    """The scene a new run of ``preset`` trains in (its fixed colours included), seen from the front camera."""
    spec, kwargs = preset_reward(preset, world_id)
    views = scene_views(world_id, seed, size=320, **kwargs)
    return next(iter(views.frames.values())), views.instruction, spec


def _intro(choice: dict) -> None:
    st.markdown("Train an agent and watch it learn. Pick a **world**, a **task** and a **reward** in the sidebar, "
                "then press **Start training**. Training runs in its own process: close this tab whenever you "
                "like and come back to it, or open it on a projector as well.")
    try:
        with st.spinner("Rendering the scene..."):
            frame, instruction, spec = _preview(choice["world_id"], choice["preset"], choice["seed"])
    except (ValueError, SpecError) as err:
        st.error(f"This choice cannot be previewed: {err}", icon=":material/error:")
        return
    left, right = st.columns([2, 3], gap="large")
    left.image(frame, width="stretch", caption=f"The scene on seed {choice['seed']}; every episode draws new "
                                               "positions")
    with right:
        st.subheader("The next run")
        st.markdown(f"**Task:** {instruction}  \n**Reward:** {preset_title(choice['preset'], choice['world_id'])}, "
                    f"{PRESETS[choice['preset']].summary[0].lower() + PRESETS[choice['preset']].summary[1:]}")
        st.markdown(_spec_markdown(spec))
        st.caption("While it trains: the live view, per-term reward charts, ground-truth success beside the "
                   "learned reward, and reward edits from the Reward editor page, each marked on the charts.")


def _spec_markdown(spec) -> str:
    lines = []
    for t in spec.terms:
        state = "" if t.enabled else " *(off)*"
        what = ""
        if isinstance(t, ClipTermSpec):
            what = f": *“{' / '.join(t.goal_prompts)}”* vs *“{' / '.join(t.baseline_prompts)}”*, α {t.alpha:g}"
        elif isinstance(t, ShapingTermSpec):
            what = f": {t.potential.replace('_', ' ')}"
        lines.append(f"- **{t.term_name}** × {t.weight:g}{what}{state}")
    return "\n".join(lines)


def _reward_summary(info: RunInfo) -> None:
    spec = Session.attach(info.path).current_spec()
    st.markdown(f"**Reward v{spec.version}**\n" + _spec_markdown(spec))


def _dashboard(info: RunInfo) -> None:
    """Status, controls, headline numbers and charts: one fragment, refreshed every CHARTS_EVERY_S while the run
    is active (each refresh re-renders the page's elements in the browser, so one clock is cheaper than three)."""
    session = Session.attach(info.path)

    @st.fragment(run_every=CHARTS_EVERY_S if info.status.active else None)
    def panel():
        status = session.status()
        if status.active:
            _relay(str(info.path)).touch()          # a tab is watching: keep the live view's frames coming
        if status.state != info.status.state or status.spec_version != info.status.spec_version:
            st.rerun(scope="app")   # paused, ended, ... or a new reward: rebuild the buttons, clocks and summary
        _status(session, status)
        view = watcher(str(info.path)).refresh()
        m1, m2, m3 = st.columns(3)
        success = view.recent_success()
        m1.metric("Success (ground truth)", fmt(None if success is None else 100 * success, ".0f") + ("%" if
                  success is not None else ""), help="Share of the last 50 finished episodes the world's own "
                  "success test passed: what the agent should achieve, whatever it is rewarded for.")
        m2.metric("Learned return", fmt(view.recent_return()), help="Mean episode return under the reward the "
                  "agent is trained on (last 50 episodes).")
        m3.metric("Reference return", fmt(view.recent_return(world=True)), help="The same episodes scored by "
                  "the world's hand-written reference reward.")
        if view.episodes.empty and view.steps.empty:
            st.info("Charts appear after the first telemetry flush (about a second of training).",
                    icon=":material/monitoring:")
            return
        st.markdown("**Learned return vs ground-truth success**")
        st.altair_chart(charts.outcome_chart(view), width="stretch")
        st.markdown("**Reward terms per step**")
        st.altair_chart(charts.term_chart(view), width="stretch")
        _edit_log(view)
    panel()


def _edit_log(view) -> None:
    if not view.edits and not view.refused:
        st.caption("Dashed lines will mark each reward edit, labelled with its version and its EPIC distance "
                   "to the previous reward.")
        return
    lines = []
    for e in view.edits:
        d = e.get("epic_distance")
        epic = f"EPIC distance **{d:.3f}**" if d is not None else (
            "EPIC distance unavailable" if e.get("epic_error") else "EPIC distance computing...")
        note = f" — {e['note']}" if e.get("note") else ""
        scale = e.get("standardized")     # the map the learner sees from this edit on
        scale = f" · the learner now sees (r − {scale['mean']:.3g}) / {scale['std']:.3g}" if scale else ""
        lines.append(f"- **v{e['new_version']}** from step {fmt_int(e.get('step'))}: {epic} to "
                     f"v{e['old_version']}{scale}{note}")
    for e in view.refused[-3:]:
        lines.append(f"- :red[refused edit]: {e.get('error')}")
    st.markdown("**Reward edits**\n" + "\n".join(lines))


def _watch(info: RunInfo) -> None:
    from studio.ui.nav import page

    st.caption(f"Run `{info.run_id}` · world `{info.world_id}` · {info.algo.upper()}")
    left, right = st.columns([2, 3], gap="large")
    with left:
        _live_view(info)
        _controls(info)
        _reward_summary(info)
        if info.status.active:
            st.page_link(page("editor"), label="Edit the reward while it trains", icon=":material/edit:")
    with right:
        _dashboard(info)


def render() -> None:
    choice, started = _new_run_sidebar()
    st.title("Studio")
    if started:
        _start(dict(choice))
    infos = runs()
    if not infos:
        _intro(choice)
        return
    info = pick_run("Watching", key="studio_run", infos=infos,
                    help="Every run on this machine, running ones first. Open the same page in another tab or "
                         "on a projector to watch the same run.")
    _watch(info)
