"""The World page: pick a scene, see it from every camera, and watch a scripted demo solve the task."""

from __future__ import annotations

import random

import pandas as pd
import streamlit as st

import worlds
from studio.preview import scene_views, scripted_demo


def _world_kwargs(world_id: str, n_objects: int | None) -> dict:
    return {} if n_objects is None else {"n_objects": n_objects}


@st.cache_data(max_entries=64, show_spinner=False)
def _views(world_id: str, seed: int, n_objects: int | None):
    return scene_views(world_id, seed, **_world_kwargs(world_id, n_objects))


def _camera_row(frames: dict, suffix: str = "camera") -> None:
    for column, (camera, frame) in zip(st.columns(len(frames)), frames.items()):
        column.image(frame, caption=f"{camera.capitalize()} {suffix}", width="stretch")


def _world_picker() -> tuple[str, int, int | None]:
    infos = worlds.WORLDS
    ids = worlds.world_ids()
    with st.sidebar:
        st.header("Scene")
        world_id = st.selectbox("World", ids, index=ids.index("studio/Push-v0"),
                                format_func=lambda i: i.split("/")[1].removesuffix("-v0"))
        st.caption(infos[world_id].summary)
        n_objects = None
        if infos[world_id].family == "manipulation":
            low = 2 if infos[world_id].kwargs.get("task") == "stack" else 1
            n_objects = st.slider("Objects", low, 3, low, help="The first object is the one the task is about; "
                                  "the others are distractors.")
        if "seed" not in st.session_state:
            st.session_state.seed = 0
        st.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="seed",
                        help="The same seed always gives the same colours, shapes and positions.")
        st.button("New random scene", on_click=lambda: st.session_state.update(seed=random.randrange(10_000)),
                  width="stretch")
    return world_id, int(st.session_state.seed), n_objects


def render() -> None:
    world_id, seed, n_objects = _world_picker()
    st.title("World viewer")
    try:
        with st.spinner("Rendering the scene..."):
            views = _views(world_id, seed, n_objects)
    except ValueError as err:          # bad arguments: say so on the page, never a traceback
        st.error(f"This scene cannot be built: {err}")
        return
    st.markdown("  \n".join(views.lines))
    _camera_row(views.frames)
    if views.target_frames:
        st.subheader("What success looks like")
        st.caption("The target pose, set by hand and judged by the same ground-truth predicate that scores "
                   "every agent, whatever reward it was trained on.")
        _camera_row(views.target_frames, "camera, target pose")
        return

    st.subheader("Scripted demo")
    st.caption("A hand-written controller that reads the true state: proof the task is solvable and the "
               "gripper really grasps. The dense reference reward's terms are plotted under the video.")
    if st.button("Play scripted demo", type="primary", key="play_demo"):
        bar = st.progress(0.0, text="Simulating and rendering...")
        demo = scripted_demo(world_id, seed, **_world_kwargs(world_id, n_objects),
                             progress=lambda f: bar.progress(f, text="Simulating and rendering..."))
        bar.empty()
        st.session_state.demo = demo
    demo = st.session_state.get("demo")
    if demo is not None and (demo.world_id, demo.seed) == (world_id, seed):
        left, right = st.columns([1, 1])
        left.video(demo.mp4, autoplay=True, loop=True, muted=True)
        outcome = "succeeded" if demo.success else "did not succeed"
        right.metric("Outcome", "Success" if demo.success else "Failure",
                     help=f"The episode {outcome} by the world's ground-truth predicate.")
        right.metric("Return (dense reference reward)", f"{demo.episode_return:.1f}")
        chart = pd.DataFrame(demo.terms)
        chart.index.name = "step"
        right.line_chart(chart, height=220)
