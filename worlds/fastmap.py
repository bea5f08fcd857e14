"""The object-naming room ("this is a dax"): fast mapping of new words to new objects, after Hill et al. (2021).

``FastMapRoomEnv(n_objects=3)``, registered as ``studio/FastMapRoom-v0``.

A 1 x 1 m room holds ``n_objects`` objects, a fixed bed (north-east corner) and a fixed open box (north-west
corner), and a mobile hand: a base that drives over the floor with a two-prong grip. Each episode draws every
object's appearance (shape x colour x size) from a global set and binds each object to a nonsense name
(dax, wug, blicket, ...) for this episode only, so nothing learned across episodes says which name is which.

* **Discovery phase.** When the hand touches (is over) or holds an object, the text channel says
  ``"this is a <name>"`` for that step. The phase ends after ``discovery_steps`` steps, or as soon as every
  object has been named when ``end_discovery_when_named`` (default).
* **Instruction phase.** Objects move to new random positions and the observation's object slots are
  permuted, so neither position nor slot index carries the binding. The instruction says
  ``"pick up the <name>"`` (task ``pick``) or ``"put the <name> on the bed"`` / ``"... in the box"`` (task
  ``put``). Gripping the named object pays ``success`` and ends the episode (pick); gripping another object
  ends the episode with nothing. For ``put`` the right object must be carried and released over the bed or
  into the box. The phase lasts ``instruction_steps`` steps, then the episode is truncated.

Motion is kinematic (MuJoCo mocap bodies, no dynamics): the env moves the hand and objects itself and MuJoCo
computes poses only when a frame is rendered, so a step costs microseconds.

## Action space

``Box(-1, 1, (3,), float32)``

| index | meaning                                                                      | unit at +1        |
|-------|------------------------------------------------------------------------------|-------------------|
| 0     | hand displacement along x (east)                                             | ``speed`` m       |
| 1     | hand displacement along y (north)                                            | ``speed`` m       |
| 2     | grip: above 0.5 toggles the grip (grasp the object under the hand / release) | -                 |

A grip held above 0.5 on consecutive steps toggles once (it must drop below 0.5 to toggle again).
Agents that prefer discrete actions wrap the env (``agents.memory.DiscreteMoves``: stay, 4 moves, grip).

## Observation space

``Dict`` of ``Box(float32)``; ``A = 9`` appearance features (rgb, 5-way shape one-hot, size in {-1, 0, 1}),
``K = 8`` object slots (unused slots are zeros), ``L = 6`` token ids (0 = padding; :data:`VOCAB`).

| key              | shape      | meaning                                                                       |
|------------------|------------|-------------------------------------------------------------------------------|
| proprio          | (5,)       | hand x, y (m); holding (0/1); phase (0 discovery, 1 instruction); fraction of |
|                  |            | the phase's time used                                                         |
| objects          | (K, 2 + A) | per slot: object x, y minus hand x, y (m), then its appearance                |
| obj_mask         | (K,)       | 1 for slots holding an object                                                 |
| fovea            | (A,)       | appearance of the object under or in the hand, zeros if none                  |
| text             | (L,)       | what the text channel says this step ("this is a dax"), token ids             |
| instruction      | (L,)       | the standing instruction (zeros during discovery), token ids                  |
| target_appearance| (A,)       | only with ``oracle=True``: the named object's appearance (instruction phase)  |
| image            | (64,64,3)  | only with ``image_obs=True``: uint8 egocentric camera, ``reward`` profile     |

## Reward terms

| term     | value                                                                                   | weight        |
|----------|-----------------------------------------------------------------------------------------|---------------|
| success  | 1 when the named object is picked up (pick) or put in place (put)                       | 1             |
| naming   | 1 the first time each object is named in discovery (shaping, "if you visit an object")  | ``shaping``   |

## Success (``info["is_success"]``)

The instructed object was picked up (``pick``) or released on the bed / in the box as instructed (``put``).
``info["outcome"]`` is ``"correct"``, ``"wrong"`` (another object was gripped), ``"timeout"`` or ``""``.

## Arguments

| argument                 | default        | meaning                                                                |
|--------------------------|----------------|------------------------------------------------------------------------|
| n_objects                | 3              | objects in the room, 1 to 8 (train 3, test 5 and 8)                    |
| split                    | ``"train"``    | ``train``; ``heldout_names`` (10 names never used in training);        |
|                          |                | ``heldout_objects`` (appearances never used in training); ``heldout``  |
| task                     | ``"pick"``     | ``pick``, ``put`` or ``mixed`` (each episode one of the two)           |
| discovery_steps          | 12 + 12 N      | length of the discovery phase                                          |
| instruction_steps        | 40             | length of the instruction phase                                        |
| end_discovery_when_named | True           | start the instruction as soon as every object has been named           |
| shaping                  | 0.1            | weight of the ``naming`` term (0 turns shaping off)                    |
| speed                    | 0.05           | hand displacement (m) per step at full action                          |
| oracle                   | False          | add ``target_appearance`` (the binding, told) to the observation       |
| image_obs                | False          | add a 64x64 egocentric ``image``                                       |
| camera                   | ``"overhead"`` | ``overhead``, ``corner`` or ``egocentric``                             |
| render_profile           | ``"viewer"``   | see :mod:`worlds.rendering`                                            |
| width, height            | profile's      | render size in pixels                                                  |

:meth:`describe` returns the scene in words (objects as "large red cube", their names, the instruction).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worlds import gl  # noqa: F401  (must precede the mujoco import)

import mujoco
import numpy as np
from gymnasium import spaces

from worlds.base import StudioEnv, check_choice

XML_PATH = Path(__file__).parent / "xml" / "fastmap.xml"

SHAPES = ("cube", "ball", "cylinder", "capsule", "egg")
_GEOM_TYPES = {"cube": "box", "ball": "sphere", "cylinder": "cylinder", "capsule": "capsule", "egg": "ellipsoid"}
COLORS: dict[str, tuple[float, float, float]] = {
    "red": (0.85, 0.12, 0.12), "orange": (0.98, 0.52, 0.08), "yellow": (0.95, 0.85, 0.12),
    "green": (0.18, 0.68, 0.22), "cyan": (0.12, 0.78, 0.85), "blue": (0.15, 0.30, 0.92),
    "purple": (0.58, 0.22, 0.78), "pink": (0.98, 0.45, 0.72),
}
SIZES = {"small": 0.028, "medium": 0.038, "large": 0.048}   # half-extent (m)
_COLOR_NAMES, _SIZE_NAMES = tuple(COLORS), tuple(SIZES)

# 40 nonsense names: the first 30 are for training, the last 10 are held out for evaluation.
NAMES = ("dax", "wug", "blicket", "zof", "toma", "fep", "kiki", "bouba", "lorp", "mib", "tupa", "gazzer",
         "sprock", "wif", "pilk", "zav", "nork", "tive", "glorp", "yad", "quib", "fendle", "jick", "moxy",
         "plim", "rutch", "snib", "vop", "dopple", "keet",
         "zib", "hoov", "trelk", "bimp", "nuzz", "gorp", "flenn", "yotz", "crundle", "wemp")
TRAIN_NAMES, HELDOUT_NAMES = NAMES[:30], NAMES[30:]
WORDS = ("this", "is", "a", "pick", "up", "the", "put", "on", "in", "bed", "box")
VOCAB: tuple[str, ...] = ("<pad>", *WORDS, *NAMES)     # token id = index; 0 is padding
TOKEN = {word: i for i, word in enumerate(VOCAB)}
FIRST_NAME_TOKEN = TOKEN[NAMES[0]]

APPEARANCE_DIM = 3 + len(SHAPES) + 1
MAX_OBJECTS = 8
TEXT_LEN = 6
SPLITS = ("train", "heldout_names", "heldout_objects", "heldout")
TASKS = ("pick", "put", "mixed")
CAMERAS = ("overhead", "corner", "egocentric")

ROOM = 0.46                       # the hand stays within |x|, |y| <= ROOM
SPAWN_LOW, SPAWN_HIGH = np.array([-0.40, -0.42]), np.array([0.40, 0.14])   # south of the bed and box
MIN_GAP = 0.13
REACH = 0.07                      # the hand touches an object within this x-y distance of its centre
PLACES = {"bed": (np.array([0.33, 0.35]), np.array([0.13, 0.11]), 0.05),
          "box": (np.array([-0.33, 0.35]), np.array([0.11, 0.10]), 0.008)}   # centre, half-size, surface z


def appearance_split(shape: int, color: int, size: int) -> str:
    """``"heldout"`` for the fifth of appearances (shape, colour, size) kept out of training, else ``"train"``."""
    return "heldout" if (shape + 2 * color + 3 * size) % 5 == 0 else "train"


ALL_APPEARANCES = [(s, c, z) for s in range(len(SHAPES)) for c in range(len(COLORS)) for z in range(len(SIZES))]
APPEARANCES = {split: [a for a in ALL_APPEARANCES if appearance_split(*a) == split] for split in ("train", "heldout")}


def appearance_code(shape: int, color: int, size: int) -> np.ndarray:
    """The ``A = 9`` features an object shows: rgb, shape one-hot, size in {-1, 0, 1}."""
    code = np.zeros(APPEARANCE_DIM, dtype=np.float32)
    code[:3] = COLORS[_COLOR_NAMES[color]]
    code[3 + shape] = 1.0
    code[-1] = size - 1.0
    return code


def appearance_of(code: np.ndarray) -> tuple[int, int, int] | None:
    """(shape, colour, size) indices of an appearance code (``None`` for an all-zero code: nothing seen)."""
    code = np.asarray(code, dtype=np.float64)
    if not np.any(code):
        return None
    rgb = np.array(list(COLORS.values()))
    color = int(np.argmin(np.linalg.norm(rgb - code[:3], axis=1)))
    return int(np.argmax(code[3:3 + len(SHAPES)])), color, int(round(code[-1] + 1.0))


def appearance_rgb(code: np.ndarray) -> tuple[float, float, float]:
    """The colour an appearance code shows (rgb in [0, 1])."""
    return tuple(float(x) for x in np.asarray(code)[:3])


def appearance_words(shape: int, color: int, size: int) -> str:
    return f"{_SIZE_NAMES[size]} {_COLOR_NAMES[color]} {SHAPES[shape]}"


def tokens(sentence: str) -> np.ndarray:
    """Token ids of ``sentence`` padded to ``TEXT_LEN`` (float32, as in the observation)."""
    ids = [TOKEN[w] for w in sentence.split()]
    if len(ids) > TEXT_LEN:
        raise ValueError(f"sentence {sentence!r} has {len(ids)} words; at most {TEXT_LEN} fit the text channel")
    return np.array(ids + [0] * (TEXT_LEN - len(ids)), dtype=np.float32)


def sentence(ids: np.ndarray) -> str:
    """The words of a token-id array (padding dropped)."""
    return " ".join(VOCAB[int(i)] for i in ids if int(i) > 0)


@dataclass(frozen=True)
class SceneDescription:
    """The scene in words."""

    task: str
    objects: list[str]                               # e.g. ["large red cube", ...], in object order
    names: list[str]                                 # this episode's name for each object
    instruction: str = ""                            # e.g. "pick up the dax"
    target: int = 0                                  # index of the instructed object
    pads: list[str] = field(default_factory=list)    # the fixed bed and box (for the world viewer)


class FastMapRoomEnv(StudioEnv):
    """The object-naming room: discovery then instruction (full spec in the module docstring)."""

    def __init__(self, n_objects: int = 3, split: str = "train", task: str = "pick",
                 discovery_steps: int | None = None, instruction_steps: int = 40,
                 end_discovery_when_named: bool = True, shaping: float = 0.1, speed: float = 0.05,
                 oracle: bool = False, image_obs: bool = False, camera: str = "overhead",
                 render_profile: str = "viewer", width: int | None = None, height: int | None = None,
                 render_mode: str | None = "rgb_array"):
        if not isinstance(n_objects, (int, np.integer)) or not 1 <= n_objects <= MAX_OBJECTS:
            raise ValueError(f"n_objects={n_objects!r} is not allowed; use an integer from 1 to {MAX_OBJECTS}")
        check_choice("split", split, SPLITS)
        check_choice("task", task, TASKS)
        discovery_steps = 12 + 12 * int(n_objects) if discovery_steps is None else discovery_steps
        for label, value in (("discovery_steps", discovery_steps), ("instruction_steps", instruction_steps)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{label}={value!r} must be a positive integer number of steps")
        if not 0 < float(speed) <= 0.2:
            raise ValueError(f"speed={speed!r} is outside (0, 0.2] metres per step")
        if not np.isfinite(shaping) or shaping < 0:
            raise ValueError(f"shaping={shaping!r} must be a weight >= 0 (0 turns the naming shaping off)")
        self.n_objects, self.split, self.task = int(n_objects), split, task
        self.discovery_steps, self.instruction_steps = int(discovery_steps), int(instruction_steps)
        self.end_discovery_when_named = bool(end_discovery_when_named)
        self.shaping, self.speed = float(shaping), float(speed)
        self.oracle, self.image_obs = bool(oracle), bool(image_obs)
        self.max_steps = self.discovery_steps + self.instruction_steps
        model = mujoco.MjModel.from_xml_string(_scene_xml())
        super().__init__(model, frame_skip=1, camera=camera, render_profile=render_profile, width=width,
                         height=height, render_mode=render_mode)
        self._index_model()

        box = lambda *shape: spaces.Box(-1.0, 1.0, shape, np.float32)  # noqa: E731  (all features are in [-1, 1])
        obs = {"proprio": box(5), "objects": box(MAX_OBJECTS, 2 + APPEARANCE_DIM),
               "obj_mask": spaces.Box(0.0, 1.0, (MAX_OBJECTS,), np.float32),
               "fovea": box(APPEARANCE_DIM),
               "text": spaces.Box(0.0, len(VOCAB) - 1, (TEXT_LEN,), np.float32),
               "instruction": spaces.Box(0.0, len(VOCAB) - 1, (TEXT_LEN,), np.float32)}
        if self.oracle:
            obs["target_appearance"] = box(APPEARANCE_DIM)
        if self.image_obs:
            obs["image"] = spaces.Box(0, 255, (64, 64, 3), np.uint8)
        self.observation_space = spaces.Dict(obs)
        self.action_space = spaces.Box(-1.0, 1.0, (3,), np.float32)
        self._clear()

    # ---------------------------------------------------------------- model
    def _index_model(self) -> None:
        m = self.model
        self._hand_mocap = m.body_mocapid[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "hand")]
        self._obj_mocap = [m.body_mocapid[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, f"object{i}")]
                           for i in range(MAX_OBJECTS)]
        self._obj_geoms = [[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, f"object{i}_{s}") for s in SHAPES]
                           for i in range(MAX_OBJECTS)]

    def _clear(self) -> None:
        self.hand = np.array([0.0, -0.3])
        self.pos = np.zeros((self.n_objects, 2))
        self.looks: list[tuple[int, int, int]] = []
        self.codes = np.zeros((self.n_objects, APPEARANCE_DIM), np.float32)
        self.names: list[str] = []
        self.named = np.zeros(self.n_objects, bool)
        self.slots = np.arange(self.n_objects)          # slot s shows object slots[s]
        self.target, self.place, self.t, self.phase_t, self.phase = 0, "", 0, 0, 0
        self.held, self.touched, self._grip_was_down = -1, -1, False
        self.outcome = ""
        self.text = np.zeros(TEXT_LEN, np.float32)

    # ---------------------------------------------------------------- episode
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        rng = self.np_random
        self._clear()
        looks = APPEARANCES["heldout" if self.split in ("heldout_objects", "heldout") else "train"]
        chosen: list[tuple[int, int, int]] = []
        for i in rng.permutation(len(looks)):     # distinct (shape, colour) pairs, so objects are told apart
            if all(looks[i][:2] != c[:2] for c in chosen):
                chosen.append(looks[i])
            if len(chosen) == self.n_objects:
                break
        self.looks = chosen
        self.codes = np.stack([appearance_code(*a) for a in chosen])
        pool = HELDOUT_NAMES if self.split in ("heldout_names", "heldout") else TRAIN_NAMES
        self.names = [pool[i] for i in rng.choice(len(pool), self.n_objects, replace=False)]
        self.target = int(rng.integers(self.n_objects))
        task = self.task if self.task != "mixed" else ("pick", "put")[int(rng.integers(2))]
        self.place = "" if task == "pick" else ("bed", "box")[int(rng.integers(2))]
        self.pos = self._spawn(rng)
        self.hand = rng.uniform(SPAWN_LOW, SPAWN_HIGH)
        while np.min(np.linalg.norm(self.pos - self.hand, axis=1)) <= REACH:   # start touching nothing
            self.hand = rng.uniform(SPAWN_LOW, SPAWN_HIGH)
        self.slots = rng.permutation(self.n_objects)
        self._apply_appearance()
        self._update_senses()
        return self._observation(), self._info({"success": 0.0, "naming": 0.0})

    def _spawn(self, rng: np.random.Generator) -> np.ndarray:
        pos: list[np.ndarray] = []
        while len(pos) < self.n_objects:
            p = rng.uniform(SPAWN_LOW, SPAWN_HIGH)
            if all(np.linalg.norm(p - q) >= MIN_GAP for q in pos):
                pos.append(p)
        return np.array(pos)

    def step(self, action):
        action = np.asarray(action, dtype=np.float64).reshape(3)
        if not np.all(np.isfinite(action)):
            raise ValueError(f"action {action!r} has non-finite entries; actions are 3 numbers in [-1, 1]")
        action = np.clip(action, -1.0, 1.0)
        terms = {"success": 0.0, "naming": 0.0}
        terminated = False
        # Decided before this step's senses, so the last name of discovery is still heard (one step) first.
        switch = self.phase == 0 and (self.phase_t >= self.discovery_steps or
                                      (self.end_discovery_when_named and self.named.all()))
        self.hand = np.clip(self.hand + self.speed * action[:2], -ROOM, ROOM)
        if self.held >= 0:
            self.pos[self.held] = self.hand
        grip_down = action[2] > 0.5
        if grip_down and not self._grip_was_down:
            terminated = self._toggle_grip(terms)
        self._grip_was_down = grip_down
        self.t += 1
        self.phase_t += 1
        self._update_senses()
        if self.phase == 0 and self.touched >= 0 and not switch:
            if not self.named[self.touched]:
                terms["naming"] = self.shaping
            self.named[self.touched] = True
        if switch and not terminated:
            self._start_instruction()
        truncated = not terminated and self.phase == 1 and self.phase_t >= self.instruction_steps
        if truncated:
            self.outcome = "timeout"
        return self._observation(), float(sum(terms.values())), terminated, truncated, self._info(terms)

    def _toggle_grip(self, terms: dict[str, float]) -> bool:
        """Grasp the object under the hand or release the held one; True when this ends the episode."""
        if self.held >= 0:
            obj, self.held = self.held, -1
            if self.phase == 1 and self.place and self._in_place(self.pos[obj], self.place):
                return self._judge(obj == self.target, terms)
            return False
        near = self._nearest()
        if near < 0:
            return False
        self.held = near
        if self.phase == 1 and (not self.place or near != self.target):
            return self._judge(near == self.target, terms)
        return False

    def _judge(self, right: bool, terms: dict[str, float]) -> bool:
        self.outcome = "correct" if right else "wrong"
        terms["success"] = 1.0 if right else 0.0
        return True

    def _start_instruction(self) -> None:
        """Reshuffle positions and slots; the instruction starts."""
        rng = self.np_random
        self.phase, self.phase_t, self.held = 1, 0, -1
        self.pos = self._spawn(rng)
        self.slots = rng.permutation(self.n_objects)
        self._update_senses()

    def _nearest(self) -> int:
        if self.n_objects == 0:
            return -1
        d = np.linalg.norm(self.pos - self.hand, axis=1)
        i = int(np.argmin(d))
        return i if d[i] <= REACH else -1

    def _update_senses(self) -> None:
        self.touched = self.held if self.held >= 0 else self._nearest()
        if self.phase == 0 and self.touched >= 0:
            self.text = tokens(f"this is a {self.names[self.touched]}")
        else:
            self.text = np.zeros(TEXT_LEN, np.float32)

    @staticmethod
    def _in_place(xy: np.ndarray, place: str) -> bool:
        centre, half, _ = PLACES[place]
        return bool(np.all(np.abs(xy - centre) <= half))

    # ---------------------------------------------------------------- observation and info
    @property
    def instruction(self) -> str:
        """The instruction in words ("" during discovery)."""
        if self.phase == 0:
            return ""
        name = self.names[self.target]
        if not self.place:
            return f"pick up the {name}"
        return f"put the {name} on the bed" if self.place == "bed" else f"put the {name} in the box"

    def _observation(self) -> dict[str, np.ndarray]:
        objects = np.zeros((MAX_OBJECTS, 2 + APPEARANCE_DIM), np.float32)
        mask = np.zeros(MAX_OBJECTS, np.float32)
        for s, i in enumerate(self.slots):
            objects[s, :2] = self.pos[i] - self.hand
            objects[s, 2:] = self.codes[i]
            mask[s] = 1.0
        fovea = self.codes[self.touched] if self.touched >= 0 else np.zeros(APPEARANCE_DIM, np.float32)
        frac = self.phase_t / (self.discovery_steps if self.phase == 0 else self.instruction_steps)
        obs = {"proprio": np.array([*self.hand, float(self.held >= 0), float(self.phase), frac], np.float32),
               "objects": objects, "obj_mask": mask, "fovea": fovea.astype(np.float32).copy(),
               "text": self.text.copy(),
               "instruction": tokens(self.instruction) if self.phase == 1 else np.zeros(TEXT_LEN, np.float32)}
        if self.oracle:
            obs["target_appearance"] = (self.codes[self.target] if self.phase == 1
                                        else np.zeros(APPEARANCE_DIM, np.float32)).astype(np.float32).copy()
        if self.image_obs:
            obs["image"] = self.render_camera("egocentric", "reward", width=64, height=64)
        return obs

    def _info(self, terms: dict[str, float]) -> dict[str, Any]:
        info = self.terms_info(terms, self.outcome == "correct")
        info.update(outcome=self.outcome, phase=self.phase, n_named=int(self.named.sum()),
                    target_named=bool(self.named[self.target]) if self.n_objects else False,
                    instruction=self.instruction, said=sentence(self.text), touched=self.touched,
                    target=self.target)
        return info

    def describe(self) -> SceneDescription:
        """The scene in words: objects, their names this episode, the instruction (after discovery)."""
        task = "put" if self.place else "pick"
        name = self.names[self.target] if self.names else ""
        future = (f"pick up the {name}" if not self.place else
                  f"put the {name} {'on the bed' if self.place == 'bed' else 'in the box'}")
        return SceneDescription(task, [appearance_words(*a) for a in self.looks], list(self.names),
                                self.instruction or f"discover the names; then: {future}", self.target,
                                ["bed", "box"])

    def slot_of(self, obj: int) -> int:
        """The observation slot that currently shows object ``obj``."""
        return int(np.flatnonzero(self.slots == obj)[0])

    # ---------------------------------------------------------------- rendering
    def _apply_appearance(self) -> None:
        m = self.model
        for i in range(MAX_OBJECTS):
            for g in self._obj_geoms[i]:
                m.geom_rgba[g, 3] = 0.0
        for i, (shape, color, size) in enumerate(self.looks):
            g = self._obj_geoms[i][shape]
            m.geom_rgba[g] = (*COLORS[_COLOR_NAMES[color]], 1.0)
            h = SIZES[_SIZE_NAMES[size]]
            m.geom_size[g] = {"cube": (h, h, h), "ball": (h, 0, 0), "cylinder": (h, h, 0),
                              "capsule": (0.7 * h, 0.5 * h, 0), "egg": (0.75 * h, 0.75 * h, 1.2 * h)}[SHAPES[shape]]

    def _sync(self) -> None:
        """Copy the kinematic state into MuJoCo's mocap bodies and compute poses (only for rendering)."""
        d = self.data
        d.mocap_pos[self._hand_mocap] = (*self.hand, 0.0)
        for i in range(MAX_OBJECTS):
            if i < len(self.looks):
                shape, _, size = self.looks[i]
                h = SIZES[_SIZE_NAMES[size]]
                z = {"egg": 1.2 * h, "capsule": 0.7 * h}.get(SHAPES[shape], h)
                if i == self.held:
                    z += 0.06
                elif self.place and any(self._in_place(self.pos[i], p) for p in PLACES):
                    z += next(PLACES[p][2] for p in PLACES if self._in_place(self.pos[i], p))
                d.mocap_pos[self._obj_mocap[i]] = (*self.pos[i], z)
            else:
                d.mocap_pos[self._obj_mocap[i]] = (0.0, 0.0, -1.0)
        mujoco.mj_kinematics(self.model, d)
        mujoco.mj_camlight(self.model, d)

    def render_state(self):
        self._sync()
        return super().render_state()


def _scene_xml() -> str:
    """The room with ``MAX_OBJECTS`` object slots (mocap bodies), one geom per shape in each."""
    import xml.etree.ElementTree as ET

    tree = ET.parse(XML_PATH)
    worldbody = tree.getroot().find("worldbody")
    for i in range(MAX_OBJECTS):
        body = ET.SubElement(worldbody, "body", name=f"object{i}", mocap="true", pos=f"0 0 -1")
        for shape in SHAPES:
            ET.SubElement(body, "geom", name=f"object{i}_{shape}", type=_GEOM_TYPES[shape],
                          size="0.03 0.03 0.03", rgba="1 1 1 0",
                          **({"euler": "1.5708 0 0"} if shape == "capsule" else {}))
    return ET.tostring(tree.getroot(), encoding="unicode")


__all__ = ["APPEARANCE_DIM", "FastMapRoomEnv", "HELDOUT_NAMES", "MAX_OBJECTS", "NAMES", "SHAPES", "TEXT_LEN",
           "TRAIN_NAMES", "VOCAB", "appearance_code", "appearance_of", "appearance_rgb", "appearance_words",
           "sentence", "tokens"]
