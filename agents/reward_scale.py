"""A reward standardisation for off-policy learners, measured on the replay buffer and kept off the telemetry.

An off-policy learner feels the reward's offset in its critic and its scale against the entropy bonus: SAC's
Q-values sum about ``r / (1 - gamma)``, so a CLIP reward of 0.7 +- 0.06 a step becomes a value of 14 with the
part that says anything in its second decimal. ``bench.clip_push`` therefore standardises the CLIP reward,
``(r - mean) / std`` with both measured over SAC's random-action warm-up and then frozen; that is the setting its
90-96% success with demonstrations was measured under. :class:`RewardStandardizer` is the same map for a studio run,
where the reward can be edited while the agent trains, so it lives on the learner's side of the replay buffer:

* the buffer keeps the rewards as the reward stack gave them (telemetry, charts, recordings and relabelling all
  see those), and the map is applied when a batch is sampled (``agents.demos.DemoReplayBuffer.standardizer``),
  to the agent's own steps and to demonstrations alike;
* :class:`StandardizeRewardCallback` measures it at the end of the rollout that passes SAC's ``learning_starts``
  (every step of it stored, no gradient step taken yet: SB3 trains once ``num_timesteps > learning_starts``),
  over the agent's own stored steps (demonstrations are not what a random policy is paid, and would move the
  mean): :meth:`RewardStandardizer.measure_buffer`. Those are the warm-up's random actions plus that rollout's
  policy steps (one vector step with SAC's ``train_freq`` of 1; ``train_freq`` of them in general);
* after a reward edit relabels the buffer, :meth:`RewardStandardizer.measure_buffer` measures the same slots
  again, now paid the new reward, so the map still means "the warm-up's rewards have mean 0 and spread 1" and an
  edit that changes nothing leaves it as it was. Once the buffer has wrapped those slots are gone, and it is
  measured on everything stored. An edit that could not relabel the buffer keeps the map.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

MIN_STD = 1e-8


class RewardStandardizer:
    """``r -> (r - mean) / std``; the identity until :meth:`measure` has been called.

    Works on numpy arrays and torch tensors alike (it is plain arithmetic on its argument).
    """

    def __init__(self) -> None:
        self.mean, self.std, self.count = 0.0, 1.0, 0
        self.rows = 0           # the replay rows (slots [0, rows)) measured first: measured again after edits

    @property
    def measured(self) -> bool:
        return self.count > 0

    def measure(self, rewards: np.ndarray) -> None:
        """Set the map from ``rewards`` (any shape; at least one finite value).

        A reward that never varies (std 0) keeps its mean removed and is not divided (std 1), so a constant
        reward becomes 0 instead of a division by zero.

        Raises:
            ValueError: no finite reward to measure.
        """
        values = np.asarray(rewards, np.float64).ravel()
        values = values[np.isfinite(values)]
        if values.size == 0:
            raise ValueError("no finite reward to standardise by: store at least one step before measuring "
                             "(raise SAC's learning_starts)")
        std = float(values.std())
        self.mean, self.std, self.count = float(values.mean()), (std if std > MIN_STD else 1.0), int(values.size)

    def measure_buffer(self, replay: Any) -> None:
        """Measure on an SB3 ``ReplayBuffer``'s own stored rewards: the first time on every row stored (which it
        remembers), later on those rows again while the buffer has not wrapped over them, else on all it holds.

        Raises:
            ValueError: nothing finite stored.
        """
        stored = stored_rewards(replay)
        if not self.rows:
            self.rows = len(stored)
        self.measure(stored if replay.full else stored[:self.rows])

    def __call__(self, rewards: Any) -> Any:
        if not self.measured:
            return rewards
        return (rewards - self.mean) / self.std

    def state(self) -> dict[str, float | int]:
        """What telemetry reports: ``{"mean", "std", "count"}`` (``count``: the rewards it was measured on)."""
        return {"mean": float(f"{self.mean:.7g}"), "std": float(f"{self.std:.7g}"), "count": self.count}


def stored_rewards(replay: Any) -> np.ndarray:
    """The rewards an SB3 ``ReplayBuffer`` holds now (every env's column), oldest slots included once full."""
    rows = replay.buffer_size if replay.full else replay.pos
    return np.asarray(replay.rewards[:rows])


class StandardizeRewardCallback(BaseCallback):
    """Measures the replay buffer's :class:`RewardStandardizer` once, at the end of the rollout that passes SAC's
    ``learning_starts`` (before its first gradient step), and calls ``on_measure(state, step)``.

    The model's replay buffer must carry a ``standardizer`` (``agents.demos.DemoReplayBuffer``); a learner
    without one is refused at the start of training with the fix.
    """

    def __init__(self, on_measure: Callable[[dict, int], None] | None = None):
        super().__init__()
        self.on_measure = on_measure

    def _init_callback(self) -> None:
        replay = getattr(self.model, "replay_buffer", None)
        if getattr(replay, "standardizer", None) is None:
            raise ValueError(f"{type(self.model).__name__} has no replay buffer with a reward standardizer: "
                             "standardising rewards needs SAC with agents.demos.DemoReplayBuffer "
                             "(agents.demos.sac_demo_kwargs)")

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        # SB3's own test for training (OffPolicyAlgorithm.learn): from this rollout's end on, it takes gradient steps
        standardizer = self.model.replay_buffer.standardizer
        if not standardizer.measured and self.num_timesteps > self.model.learning_starts:
            standardizer.measure_buffer(self.model.replay_buffer)
            if self.on_measure is not None:
                self.on_measure(standardizer.state(), int(self.num_timesteps))
