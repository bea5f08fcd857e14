"""Streamlit pages of the studio. Each page reads its widgets into plain values and calls the core."""
