"""The application core of Reward Studio: what the UI and the CLI call. Never imports streamlit."""

from worlds import gl  # noqa: F401  (MUJOCO_GL before anything imports mujoco)
