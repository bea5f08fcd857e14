"""Memory agents for the object-naming room (Hill et al. 2021, "Grounded Language Learning Fast and Slow").

``wrappers`` (the dual-coding episodic memory carried in the observation, discrete moves), ``extractor``
(the DCEM read for SB3 PPO, and the oracle's pointer), ``seek_names`` (the intrinsic "seek names" reward
term), ``train`` (one harness for the memory agent and its baselines) and ``replay`` (an episode with what
the agent stored and read at every step, for the studio's memory panel). Never imports studio or streamlit.
"""

from agents.memory.extractor import DCEMExtractor, OracleExtractor
from agents.memory.seek_names import SeekNamesTerm
from agents.memory.wrappers import DiscreteMoves, DropKeys, DualCodingMemory

__all__ = ["DCEMExtractor", "DiscreteMoves", "DropKeys", "DualCodingMemory", "OracleExtractor", "SeekNamesTerm"]
