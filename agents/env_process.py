"""Imported once by the fork server that starts env processes (``make_venv(..., subprocess_envs=True)``).

It imports what every env process needs (the worlds, SB3 and torch, through :mod:`agents.sb3_factory`) and
then freezes the garbage collector's view of those objects, so the env processes forked from the server share
their pages: a collection in a child would otherwise write to every object's header and copy the page.
"""

import gc

import agents.sb3_factory  # noqa: F401

gc.freeze()
