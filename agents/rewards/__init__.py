"""Reward terms and the stack that composes them into the reward an agent sees.

``base`` (the term interface and :class:`StepBatch`), ``terms`` (the world's own terms, potential shaping),
``clip_term`` (VLM-RM / success-classifier CLIP rewards), ``stack`` (weighted, live-editable composition),
``wrappers`` (a Gymnasium wrapper and an SB3 VecEnvWrapper) and ``embedding_store`` (re-scoring recorded
steps). Never imports ``studio`` or ``streamlit``.
"""

from agents.rewards.base import RewardTerm, StepBatch
from agents.rewards.clip_term import ClipTerm
from agents.rewards.embedding_store import EmbeddingStore
from agents.rewards.stack import RewardStack, StackEntry, StackScores, StackState
from agents.rewards.terms import POTENTIALS, PotentialShaping, WorldTerm
from agents.rewards.wrappers import RewardFrameWrapper, RewardStackWrapper, VecRewardStack, default_reward_camera

__all__ = ["POTENTIALS", "ClipTerm", "EmbeddingStore", "PotentialShaping", "RewardFrameWrapper", "RewardStack",
           "RewardStackWrapper", "RewardTerm", "StackEntry", "StackScores", "StackState", "StepBatch",
           "VecRewardStack", "WorldTerm", "default_reward_camera"]
