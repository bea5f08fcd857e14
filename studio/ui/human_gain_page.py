"""The Human gain page (RLHG): how much more of their own goals a person reaches beside the RLHG agent than
beside the task-only agent, the alpha knob (a background RLHG training whose alpha and beta can be changed
while it runs), the scene at the end of an episode, and a button that opens the play-along window."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from agents.humans import HELD_OUT_HUMAN, HUMAN_NAMES
from studio import human_gain
from studio.runs import runs_root
from studio.ui import charts


@st.cache_data(max_entries=16, show_spinner=False)
def _compare(human: str, episodes: int) -> human_gain.Comparison:
    return human_gain.compare(human, episodes)


def _person_label(name: str) -> str:
    return f"{name} (held out)" if name == HELD_OUT_HUMAN else name


def _bars(c: human_gain.Comparison) -> None:
    rows = []
    for agent, r in (("task-only agent (baseline)", c.task_only), ("RLHG agent", c.rlhg)):
        rows += [{"agent": agent, "measure": "person's goals reached (%)", "value": 100 * r.human_goals_done},
                 {"agent": agent, "measure": "agent's task success (%)", "value": 100 * r.task_success}]
    st.altair_chart(charts.percent_bars(pd.DataFrame(rows)), width="stretch")
    m1, m2, m3 = st.columns(3)
    m1.metric("Person's goals, RLHG", f"{100 * c.rlhg.human_goals_done:.0f}%",
              f"{100 * (c.rlhg.human_goals_done - c.task_only.human_goals_done):+.0f} points vs task-only")
    m2.metric("Human gain", f"{100 * c.gain_fraction:+.0f}%", help="(RLHG - task-only) / task-only goals reached")
    m3.metric("Task return kept", f"{100 * c.task_retained:.0f}%", help="RLHG task return / task-only task return")
    left, right = st.columns(2)
    left.image(c.frames["task_only"], caption="Task-only agent: the table at the end of episode 1", width="stretch")
    right.image(c.frames["rlhg"], caption="RLHG agent: the table at the end of episode 1", width="stretch")


def _training_panel() -> None:
    st.subheader("The alpha knob")
    st.caption("RLHG adds alpha x the person's *positive gain* to the agent's advantage, in a share beta of "
               "episodes with the person at the table (the rest keep its own skill). Start a training from the "
               "shipped task-only agent; moving the sliders while it runs changes alpha and beta at its next "
               "rollout.")
    c1, c2 = st.columns(2)
    alpha = c1.slider("alpha (weight of human gain)", 0.0, 5.0, 2.0, 0.25, key="hg_alpha")
    beta = c2.slider("beta (share of episodes with the person)", 0.0, 1.0, 0.5, 0.05, key="hg_beta")
    steps = st.select_slider("Training steps", [50_000, 100_000, 200_000, 500_000, 1_000_000], 200_000,
                             key="hg_steps")
    folder = st.session_state.get("hg_folder")
    b1, b2 = st.columns(2)
    if b1.button("Start RLHG training with this alpha", key="hg_start", width="stretch"):
        folder = runs_root() / "human_gain" / time.strftime("%Y%m%d-%H%M%S")
        human_gain.start_training(folder, int(steps), alpha, beta)
        st.session_state.hg_folder = folder
    if folder is not None and b2.button("Apply alpha and beta to the running training", key="hg_apply",
                                        width="stretch"):
        human_gain.write_settings(folder, alpha, beta)
        st.toast(f"alpha {alpha}, beta {beta} take effect at the next rollout")
    if folder is not None:
        _progress(str(folder))


@st.fragment(run_every=3)
def _progress(folder: str) -> None:
    p = human_gain.read_progress(folder)
    if not p:
        st.info(f"Starting the training in {folder} ...")
        return
    state = {"stage1": "Stage I: fitting the person's primitive value", "training": "Stage II: RLHG",
             "done": "Done"}.get(p.get("state"), p.get("state"))
    st.progress(min(1.0, p.get("steps", 0) / max(1, p.get("total", 1))),
                text=f"{state}: {p.get('steps', 0):,} / {p.get('total', 0):,} steps; alpha {p.get('alpha')}, "
                     f"beta {p.get('beta')}; mean human gain {p.get('last_mean_gain', 0):+.3f}")
    if p.get("state") == "done":
        st.success(f"Saved {folder}/agent.zip. Play along with it: `python -m studio play-along --agent "
                   f"{folder}/agent.zip`")


def _play_along() -> None:
    st.subheader("Play along")
    st.caption("Drive the person yourself (arrows or WASD, Space grabs and lets go) beside a shipped agent, in "
               "a window on this computer. From a terminal: `python -m studio play-along --agent rlhg`.")
    c1, c2 = st.columns([1, 2])
    agent = c1.radio("Agent", ["rlhg", "task_only"], horizontal=True, key="hg_play_agent")
    if c2.button("Play along", key="hg_play", icon=":material/sports_esports:", width="stretch"):
        try:
            human_gain.launch_play_along(agent)
            st.toast("The play-along window opens on this computer's screen")
        except OSError as err:
            st.error(f"Could not start the play-along window: {err}")


def render() -> None:
    st.title("Human gain")
    st.markdown("A person and a robot share a table. The robot's own task is the **blue cylinders** into its "
                "bin; the person wants the **red cubes** at their station but reaches only their half. The "
                "task-only agent ignores the person; the RLHG agent is also rewarded for the person's gain over "
                "what they reach beside the task-only agent (Gao et al., ICLR 2024).")
    with st.sidebar:
        st.header("Person")
        human = st.selectbox("Simulated person", HUMAN_NAMES, index=HUMAN_NAMES.index(HELD_OUT_HUMAN),
                             format_func=_person_label, key="hg_human")
        episodes = st.slider("Episodes", 2, 50, 10, key="hg_episodes")
    missing = [str(p) for p in human_gain.SHIPPED.values() if not p.exists()]
    if missing:
        st.warning(f"Shipped agents missing: {', '.join(missing)}. Train them with "
                   "`python -m bench.human_gain --train`.")
    else:
        st.subheader(f"Beside the {_person_label(human)} person, {episodes} episodes")
        with st.spinner("Playing both agents on the same episodes..."):
            _bars(_compare(human, int(episodes)))
    _training_panel()
    _play_along()
