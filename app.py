"""Reward Studio: the Streamlit entry point. Navigation over the pages in studio/ui; no logic here."""

import streamlit as st

from studio.ui import reward_lab_page, world_page

st.set_page_config(page_title="Reward Studio", page_icon=":material/model_training:", layout="wide")
page = st.navigation([
    st.Page(world_page.render, title="World viewer", icon=":material/view_in_ar:", url_path="world", default=True),
    st.Page(reward_lab_page.render, title="CLIP reward", icon=":material/text_fields:", url_path="clip"),
])
page.run()
