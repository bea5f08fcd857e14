"""Play along: a person at the keyboard (or gamepad) drives the avatar in ``studio/CollabTable-v0`` beside a
shipped agent, in a pygame window showing the live MuJoCo render.

::

    python -m studio play-along [--agent rlhg|task_only|PATH.zip] [--camera front|top|robot_view]
                                [--episodes 3] [--record episodes.npz] [--fps 10]
    python -m studio.play_along ...          (the same)

Keys: arrows or WASD move the hand (up = away from you), Space grabs / lets go (a toggle; hold a red cube
and walk it to your red station), C switches camera, R restarts the episode, Esc or Q quits. A gamepad's
left stick moves the hand and its A button (button 0) grabs / lets go.

``--record`` keeps the person's episodes. Given a folder, they become a Minari dataset there, recorded like
any training run (:mod:`studio.recording`): ``studio/collabtable/play-along-vN`` with each finished episode
written as it ends, its video, and in the infos the person's actions (``human_action_<i>``) and per-goal
progress (``human_progress_<i>``) beside the task terms; load it with ``MINARI_DATASETS_PATH=<folder>``.
Given a ``.npz`` file, a compact array dump instead: per step the observation, the robot's and the person's
actions, the task reward, the person's per-goal progress and the robot's task progress, with an ``episode``
index. It runs headless (``SDL_VIDEODRIVER=dummy``) for
tests and demos; :class:`PlayAlong` takes ``max_frames`` and reads events from pygame's queue, so a test can
post synthetic key events.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
os.environ.setdefault("MUJOCO_GL", "egl")

import pygame  # noqa: E402

from worlds.collab import CAMERAS, CollabTableEnv, CollabView  # noqa: E402

AGENTS = ("rlhg", "task_only")
MOVE_KEYS = {pygame.K_LEFT: (-1, 0), pygame.K_a: (-1, 0), pygame.K_RIGHT: (1, 0), pygame.K_d: (1, 0),
             pygame.K_UP: (0, 1), pygame.K_w: (0, 1), pygame.K_DOWN: (0, -1), pygame.K_s: (0, -1)}


@dataclass
class KeyboardHuman:
    """The person at the keyboard as a :class:`worlds.collab.HumanPolicy`: the current held keys / stick and
    the grab toggle become the hand's action each step."""

    held: set[int] = field(default_factory=set)
    stick: np.ndarray = field(default_factory=lambda: np.zeros(2))
    grip: bool = False
    last_action: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def reset(self, rng: np.random.Generator) -> None:
        self.grip = False

    def __call__(self, view: CollabView, rng: np.random.Generator) -> np.ndarray:
        move = np.zeros(2)
        for key in self.held:
            move += MOVE_KEYS.get(key, (0, 0))
        move = move + self.stick
        norm = np.linalg.norm(move)
        if norm > 1:
            move /= norm
        self.last_action = np.array([*move, 1.0 if self.grip else -1.0])
        return self.last_action.copy()


def load_policy(agent: str):
    """A shipped agent by name (``rlhg``, ``task_only``) or an SB3 zip path."""
    from agents.rlhg import RLHG_PATH, TASK_ONLY_PATH, load_agent

    path = {"rlhg": RLHG_PATH, "task_only": TASK_ONLY_PATH}.get(agent, agent)
    return load_agent(path)


class PlayAlong:
    """The play-along loop: events -> the person's action, the agent's action, one world step, one frame."""

    def __init__(self, agent: str = "rlhg", camera: str = "front", size: tuple[int, int] = (640, 480),
                 fps: float = 10.0, seed: int = 0, policy=None, minari_root: str | Path | None = None):
        self.human = KeyboardHuman()
        self.env = CollabTableEnv(human=self.human, camera=camera, render_profile="viewer", width=size[0],
                                  height=size[1], render_mode="rgb_array")
        self.policy = policy if policy is not None else load_policy(agent)
        self.agent_name = agent
        self.fps, self.seed, self.size = fps, seed, size
        self.camera = camera
        self.log: dict[str, list] = {k: [] for k in ("episode", "step", "obs", "robot_action", "human_action",
                                                     "task_reward", "human_progress", "task_progress")}
        self.episode = -1
        self.returns: list[dict] = []
        self.writer = self._minari_writer(Path(minari_root)) if minari_root is not None else None
        self._builder = None
        self._pending = None        # (observation, info) of the reset, until the first step fixes the columns
        self._frames: list[np.ndarray] = []

    # ---------------------------------------------------------------- loop
    def run(self, episodes: int = 3, max_frames: int | None = None) -> list[dict]:
        """Play until ``episodes`` end, the window closes, Esc/Q, or ``max_frames`` steps; returns the
        per-episode summaries."""
        for module in (pygame.display, pygame.font, pygame.joystick):   # no audio: pygame.init() opens ALSA
            module.init()
        screen = pygame.display.set_mode((self.size[0], self.size[1] + 40))
        pygame.display.set_caption(f"Reward Studio: play along with the {self.agent_name} agent")
        font = pygame.font.Font(None, 24)
        pads = [pygame.joystick.Joystick(i) for i in range(pygame.joystick.get_count())]
        clock = pygame.time.Clock()
        obs, _ = self._new_episode()
        frames, running = 0, True
        try:
            while running:
                running = self._handle_events(pads)
                if not running:
                    break
                action, _ = self.policy.predict(obs, deterministic=True)
                prev = obs
                obs, reward, term, trunc, info = self.env.step(action)
                self._record(prev, action, reward, info)
                frame = self._draw(screen, font, info)
                self._record_minari(action, obs, reward, term, trunc, info, frame)
                frames += 1
                if term or trunc:
                    self._summarise(info)
                    if len(self.returns) >= episodes:
                        break
                    obs, _ = self._new_episode()
                if max_frames is not None and frames >= max_frames:
                    break
                if self.fps > 0:
                    clock.tick(self.fps)
        finally:
            pygame.quit()
            if self.writer is not None:
                self.writer.close()         # the episode in progress is unfinished and not kept
        return self.returns

    def _new_episode(self):
        self.episode += 1
        self._ret = 0.0
        obs, info = self.env.reset(seed=self.seed + self.episode, options={"human_present": True})
        self._builder, self._pending, self._frames = None, (obs, info), []
        return obs, info

    def _handle_events(self, pads) -> bool:
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                return False
            if event.type == pygame.KEYDOWN:
                if event.key in (pygame.K_ESCAPE, pygame.K_q):
                    return False
                if event.key == pygame.K_SPACE:
                    self.human.grip = not self.human.grip
                elif event.key == pygame.K_c:
                    self.camera = CAMERAS[(CAMERAS.index(self.camera) + 1) % len(CAMERAS)]
                elif event.key == pygame.K_r:
                    self._new_episode()
                self.human.held.add(event.key)
            elif event.type == pygame.KEYUP:
                self.human.held.discard(event.key)
            elif event.type == pygame.JOYBUTTONDOWN and event.button == 0:
                self.human.grip = not self.human.grip
        if pads:
            x, y = pads[0].get_axis(0), pads[0].get_axis(1)
            self.human.stick = np.array([x, -y]) * (np.hypot(x, y) > 0.15)
        return True

    def _draw(self, screen, font, info: dict) -> np.ndarray:
        frame = self.env.render_camera(self.camera)
        surface = pygame.surfarray.make_surface(np.ascontiguousarray(frame.swapaxes(0, 1)))
        screen.fill((24, 26, 30))
        screen.blit(surface, (0, 0))
        done = info["human_goals_done"]
        text = (f"episode {self.episode + 1}  step {self.env.t}/{self.env.episode_steps}   your red cubes home: "
                f"{done}/3   robot's blue in bin: {round(info['task_progress'] * 3)}/3   "
                f"grip {'ON' if self.human.grip else 'off'}")
        screen.blit(font.render(text, True, (235, 235, 235)), (10, self.size[1] + 10))
        pygame.display.flip()
        return frame

    # ---------------------------------------------------------------- recording
    def _record(self, obs, action, reward, info) -> None:
        self._ret += float(reward)
        for key, value in (("episode", self.episode), ("step", self.env.t), ("obs", obs),
                           ("robot_action", np.asarray(action, np.float32)),
                           ("human_action", self.human.last_action.astype(np.float32)),
                           ("task_reward", float(reward)), ("human_progress", info["human_progress"]),
                           ("task_progress", info["task_progress"])):
            self.log[key].append(value)

    def _minari_writer(self, root: Path):
        from studio.recording.layout import RecordingPaths, next_version, run_metadata, world_spec
        from studio.recording.writer import RecordingError, RecordingWriter

        world = "studio/CollabTable-v0"
        root.mkdir(parents=True, exist_ok=True)
        writer = RecordingWriter(
            RecordingPaths(root, next_version(root, world, "play-along")), world_spec(world),
            self.env.observation_space, self.env.action_space, algorithm_name=f"ppo ({self.agent_name})",
            metadata=run_metadata("play-along", "play-along", world, {}, "ppo", [], agent=self.agent_name,
                                  person="keyboard", seed=self.seed),
            description=f"Reward Studio: a person at the keyboard beside the {self.agent_name} agent")
        if writer.error:
            raise RecordingError(writer.error)
        return writer

    def _record_minari(self, action, obs, reward, term, trunc, info, frame) -> None:
        if self.writer is None or not self.writer.enabled:
            return
        from studio.recording.episodes import EpisodeBuilder, InfoSchema

        row = {**info, **{f"human_progress_{i}": v for i, v in enumerate(info["human_progress"])},
               **{f"human_action_{i}": v for i, v in enumerate(self.human.last_action)}}
        if self._builder is None:
            first_obs, first_info = self._pending
            self._builder = EpisodeBuilder(InfoSchema.from_info(row), seed=self.seed + self.episode)
            self._builder.start(first_obs, first_info, 0)
        self._builder.add(action, obs, reward, term, trunc, row, 0)
        self._frames.append(frame)
        if term or trunc:
            self.writer.submit(self._builder.finish(self._frames, int(self.fps) or 10))
            self._builder, self._frames = None, []

    def _summarise(self, info: dict) -> None:
        self.returns.append({"episode": self.episode, "human_goals_done": int(info["human_goals_done"]),
                             "task_return": self._ret, "task_success": bool(info["is_success"]),
                             "handovers": int(info["events"]["handovers"])})

    def save(self, path: str | Path) -> Path:
        """Write the recorded steps to ``path`` (.npz)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, agent=self.agent_name, **{k: np.asarray(v) for k, v in self.log.items()})
        return path


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m studio play-along",
                                description="Drive the person in CollabTable beside a shipped agent.")
    p.add_argument("--agent", default="rlhg", help="rlhg, task_only, or a path to an SB3 PPO zip")
    p.add_argument("--camera", default="front", choices=CAMERAS)
    p.add_argument("--episodes", type=int, default=3)
    p.add_argument("--fps", type=float, default=10.0, help="steps per second (0: as fast as possible)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--record", type=Path,
                   help="keep the episodes: a folder (a Minari dataset with videos) or a .npz file")
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many steps (demos, tests)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    minari_root = args.record if args.record and args.record.suffix != ".npz" else None
    try:
        game = PlayAlong(args.agent, args.camera, fps=args.fps, seed=args.seed, minari_root=minari_root)
    except (FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    summaries = game.run(args.episodes, args.max_frames)
    for s in summaries:
        print(f"episode {s['episode'] + 1}: your red cubes home {s['human_goals_done']}/3, robot task return "
              f"{s['task_return']:.2f}, hand-overs {s['handovers']}")
    if game.writer is not None:
        print(f"recorded {game.writer.episodes} finished episodes as {game.writer.paths.dataset_id} in "
              f"{game.writer.paths.folder}")
    elif args.record:
        print(f"recorded {len(game.log['step'])} steps to {game.save(args.record)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
