"""The Inspect page: an episode frame by frame with its CLIP reward, a reward strip over the whole episode, and
the captions the VLM finds closest to the current frame.

The episode is a scripted demo of any world, or one episode of a run's saved policy (its checkpoint, on the
run's own world, scored with the run's current prompts). It is played and embedded once; every prompt or
alpha edit re-scores the stored embeddings with one matrix product (VLM-RM's closed form), so the chart
follows the prompts as fast as you type. Ground truth (success and progress) is drawn beside the learned
reward, so a prompt that rewards the wrong thing shows at once.

The choices (world, seed, prompts, alpha, mode) are kept for the session (``persist_state="session"``): back
from another page, the prompts are the ones typed, not empty boxes. The step slider is not kept: its range is
the episode's.
"""

from __future__ import annotations

import os
import random

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import streamlit as st  # noqa: E402

import worlds  # noqa: E402
from agents.vlm.captions import PROMPT_HELP  # noqa: E402
from agents.vlm.clip_setting import CLIP_MODEL_ENV, CLIP_MODEL_HELP, STUDIO_SETTING  # noqa: E402
from agents.vlm.domain_eval import spearman  # noqa: E402
from agents.vlm.embedder import STUDIO_CHECKPOINT, embedder_for  # noqa: E402
from studio.clip_preview import closest_captions, record_episode, record_policy_episode, score  # noqa: E402
from studio.rollout import checkpoints  # noqa: E402
from studio.runs import RunPaths  # noqa: E402
from studio.spec import parse_run_config  # noqa: E402
from studio.ui.common import run_label, runs, world_name  # noqa: E402

WORLD_CHOICES = ("studio/Push-v0", "studio/PickPlace-v0", "studio/Stack-v0", "studio/HumanoidKneel-v0",
                 "studio/HumanoidArmsRaised-v0", "studio/HumanoidLotus-v0", "studio/HumanoidSplits-v0")
SOURCES = {"scripted": "Scripted demo", "run": "A run's saved policy"}
STRIP_FRAMES = 8


@st.cache_resource(max_entries=4, show_spinner=False)
def _embedder(setting: str):
    return embedder_for(setting, device="cpu")


@st.cache_resource(max_entries=16, show_spinner=False)
def _record(world_id: str, seed: int, n_objects: int | None, setting: str):
    return record_episode(world_id, seed, _embedder(setting), n_objects=n_objects)


@st.cache_resource(show_spinner=False)
def _run_records() -> dict:
    """Played checkpoint episodes by (run folder, checkpoint, seed), shared by every tab."""
    return {}


def _record_run(run_dir: str, checkpoint: str, seed: int, setting: str, progress=None):
    key, store = (run_dir, checkpoint, seed, setting), _run_records()
    if key not in store:
        if len(store) >= 8:
            store.pop(next(iter(store)))
        store[key] = record_policy_episode(run_dir, _embedder(setting), checkpoint, seed, progress=progress)
    return store[key]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _chart(reward: np.ndarray, record, step: int, label: str):
    fig, ax = plt.subplots(figsize=(7.5, 3.0))
    steps = np.arange(len(reward))
    for s in np.flatnonzero(record.success):
        ax.axvspan(s - 0.5, s + 0.5, color="#2e9e5b", alpha=0.18, lw=0)
    ax.plot(steps, reward, color="#2f6fde", lw=2, label=label)
    ax.axvline(step, color="#444", lw=1, ls=":")
    ax.set_xlabel("step")
    ax.set_ylabel(label, color="#2f6fde")
    twin = ax.twinx()
    twin.plot(steps, record.progress, color="#999", lw=1.5, ls="--", label="true progress")
    twin.set_ylim(-0.05, 1.05)
    twin.set_ylabel("true progress (dashed); green = success", color="#666")
    for spine in ("top",):
        ax.spines[spine].set_visible(False)
        twin.spines[spine].set_visible(False)
    fig.tight_layout()
    return fig


def _scripted_source():
    setting = st.text_input("CLIP model", value=os.environ.get(CLIP_MODEL_ENV, ""), placeholder=STUDIO_SETTING,
                            key="lab_clip_model", persist_state="session",
                            help=CLIP_MODEL_HELP).strip() or STUDIO_SETTING
    world_id = st.selectbox("World", WORLD_CHOICES, format_func=world_name, key="lab_world", persist_state="session")
    n_objects = None
    if worlds.WORLDS[world_id].family == "manipulation":
        low = 2 if "Stack" in world_id else 1
        # One key per range: a choice kept for the session (1 object on Push) must fit the slider it comes back to.
        n_objects = st.slider("Objects", low, 3, low, key=f"lab_objects_{low}", persist_state="session")
    if "lab_seed" not in st.session_state:
        st.session_state.lab_seed = 0
    st.number_input("Seed", 0, 2**31 - 1, step=1, key="lab_seed", persist_state="session")
    st.button("New random episode", width="stretch",
              on_click=lambda: st.session_state.update(lab_seed=random.randrange(10_000)))
    key = f"{world_id}/{st.session_state.lab_seed}/{n_objects}/{setting}"
    try:
        with st.spinner("Playing and embedding the episode (once; edits re-score instantly)..."):
            return key, _record(world_id, int(st.session_state.lab_seed), n_objects, setting), setting
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        st.error(f"This CLIP model cannot be used: {err}", icon=":material/error:")
        return None, None, setting


def _run_source():
    infos = [r for r in runs() if checkpoints(RunPaths(r.path))]
    if not infos:
        st.info("No run has a saved policy yet. Press **Save** on the Studio page while a run trains (or "
                "stop it), then come back.", icon=":material/info:")
        return None, None, STUDIO_SETTING
    by_id = {r.run_id: r for r in infos}
    ids = list(by_id)
    default = st.session_state.get("run_id")
    run_id = st.selectbox("Run", ids, index=ids.index(default) if default in ids else 0,
                          format_func=lambda i: run_label(by_id[i]), key="lab_run")
    ckpts = checkpoints(RunPaths(by_id[run_id].path))
    ckpt = st.selectbox("Checkpoint", [p.name for p in ckpts], index=len(ckpts) - 1, key=f"lab_ckpt_{run_id}",
                        persist_state="session",
                        format_func=lambda n: f"step {int(n[5:14]):,}")
    seed = st.number_input("Episode seed", 0, 2**31 - 1, 10_000, key="lab_run_seed", persist_state="session")
    paths = RunPaths(by_id[run_id].path)
    key, setting = f"{run_id}/{ckpt}/{seed}", STUDIO_SETTING
    bar = st.progress(0.0, text="Playing the policy and embedding its frames...")
    try:
        setting = parse_run_config(paths.config).clip_setting     # the model the run trained with
        st.caption(f"CLIP model: `{setting}` (the run's)")
        record = _record_run(str(paths.root), str(paths.checkpoints / ckpt), int(seed), setting,
                             progress=lambda f: bar.progress(f, text="Playing the policy..."))
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        bar.empty()
        st.error(f"This checkpoint cannot be played: {err}", icon=":material/error:")
        return None, None, setting
    bar.empty()
    return key, record, setting


def _filmstrip(record, reward: np.ndarray, label: str) -> None:
    picks = np.unique(np.linspace(0, len(reward) - 1, STRIP_FRAMES).round().astype(int))
    for column, s in zip(st.columns(len(picks)), picks):
        mark = " ✓" if record.success[s] else ""
        column.image(record.frames[s], caption=f"step {s}: {reward[s]:.2f}{mark}", width="stretch")


def render() -> None:
    with st.sidebar:
        st.header("Episode")
        source = st.radio("Episode from", list(SOURCES), format_func=SOURCES.get, key="lab_source",
                          persist_state="session")
        key, record, setting = _scripted_source() if source == "scripted" else _run_source()

    st.title("Inspect")
    st.caption("VLM-RM's reward: R = 1 − ½‖(s − g)P‖², with s the frame's CLIP embedding, g the mean "
               "goal-prompt embedding, b the baseline's, and P = α·ddᵀ/‖d‖² + (1 − α)·I for d = g − b. "
               "α = 0 is plain cosine similarity to the goal; α = 1 keeps only the baseline-to-goal direction.")
    if setting == STUDIO_SETTING and not STUDIO_CHECKPOINT.is_file():
        st.warning(f"The studio CLIP model file `assets/{STUDIO_CHECKPOINT.name}` is missing, so the model has "
                   "random weights: the rewards below are noise. Train it with "
                   "`python -m agents.vlm.train_domain_clip`.", icon=":material/warning:")
    if record is None:
        return
    embedder = _embedder(setting)

    left, right = st.columns([3, 2])
    with right:
        st.markdown(f"**Episode:** {record.instruction}")
        if st.session_state.get("lab_prompt_key") != key:      # new episode: its own default prompts
            st.session_state.lab_prompt_key = key
            st.session_state.lab_goal = record.goal_prompt
            st.session_state.lab_base = record.baseline_prompt
        goal = st.text_area("Goal prompts (one per line)", key="lab_goal",
                            persist_state="session", height=80, help=PROMPT_HELP)
        base = st.text_area("Baseline prompts (one per line, as many as goals)", key="lab_base",
                            persist_state="session", height=80)
        alpha = st.slider("α (baseline projection)", 0.0, 1.0, 1.0, 0.05, key="lab_alpha", persist_state="session")
        mode = st.radio("Mode", ["projection", "success"], horizontal=True, key="lab_mode", persist_state="session",
                        format_func=lambda m: {"projection": "VLM-RM projection",
                                               "success": "Success classifier (RoboFuME)"}[m])
    try:
        reward = score(record, embedder, _lines(goal), _lines(base), alpha, mode)
    except ValueError as err:
        left.error(f"These prompts cannot be scored: {err}", icon=":material/error:")
        return
    label = "CLIP reward" if mode == "projection" else "p(goal)"
    with left:
        step = st.slider("Step", 0, len(reward) - 1, int(np.argmax(reward)), key="lab_step")
        st.pyplot(_chart(reward, record, step, label), width="stretch")
        rho = spearman(reward, record.progress) if np.ptp(record.progress) > 0 else float("nan")
        m1, m2, m3 = st.columns(3)
        m1.metric("Rank corr. with progress", "—" if np.isnan(rho) else f"{rho:+.2f}",
                  help="Rank correlation (Spearman's rho) with true progress over the episode's steps: +1 means the "
                       "reward orders states exactly as true progress does. A dash: true progress never changed in "
                       "this episode.")
        m2.metric("Reward when successful", f"{reward[record.success].mean():.3f}" if record.success.any() else "—")
        m3.metric("Reward otherwise", f"{reward[~record.success].mean():.3f}" if (~record.success).any() else "—")
    with right:
        st.image(record.frames[step], caption=f"step {step}: {label} {reward[step]:.3f}"
                 + (" (success)" if record.success[step] else ""), width="stretch")

    st.subheader("The episode at a glance")
    _filmstrip(record, reward, label)
    st.subheader("What does CLIP see at this step?")
    ranked = closest_captions(record, step, embedder, _lines(goal) + _lines(base))
    st.dataframe({"caption": [c for c, _ in ranked], "cosine similarity": [round(s, 3) for _, s in ranked]},
                 hide_index=True, width="stretch")
