"""The learning side of Reward Studio: controllers, reward terms, embedders and SB3 glue.

Never imports ``studio`` or ``streamlit``: everything here runs from a notebook without the studio.
"""
