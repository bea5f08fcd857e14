"""Reward Studio: the Streamlit entry point. Navigation over the pages in studio/ui; no logic here."""

import streamlit as st

from studio.ui.nav import navigation

st.set_page_config(page_title="Reward Studio", page_icon=":material/model_training:", layout="wide")
st.navigation(navigation(), position="top").run()
