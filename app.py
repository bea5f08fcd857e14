"""Reward Studio: the Streamlit entry point. Navigation over the pages in studio/ui; no logic here."""

import streamlit as st

from studio.ui import world_page

st.set_page_config(page_title="Reward Studio", page_icon=":material/model_training:", layout="wide")
page = st.navigation([st.Page(world_page.render, title="World viewer", icon=":material/view_in_ar:",
                              url_path="world", default=True)])
page.run()
