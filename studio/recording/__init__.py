"""Recording trajectories for offline analysis: Minari datasets, an MP4 per filmed episode, an episode index.

Modules: :mod:`~studio.recording.layout` (where recordings live and their Minari ids),
:mod:`~studio.recording.episodes` (one episode's data and the fixed info columns),
:mod:`~studio.recording.writer` (crash-safe appends), :mod:`~studio.recording.vec_recorder` (record while an
SB3 algorithm trains), :mod:`~studio.recording.evaluate` (record evaluation episodes of a checkpoint),
:mod:`~studio.recording.health` (detect and repair half-written recordings), :mod:`~studio.recording.reader`
(list, load, export).
"""
