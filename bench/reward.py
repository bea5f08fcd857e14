"""End-to-end CLIP reward throughput: physics + render + embed + score, per environment step.

``python -m bench.reward [--quick]`` measures three pipelines in one run, on the push world:

* ``studio``: the studio's pipeline. 8 environments step together; each step renders the ``workspace``
  camera under the ``reward`` profile (96 px, the studio CLIP's input size); frames from a window of steps are embedded
  by the studio CLIP in one batched call and scored with the closed-form VLM-RM reward.
* ``naive``: what a user copying VLM-RM onto a laptop gets: MuJoCo's default visual settings at 224 px,
  ViT-B-32 (random weights: throughput only; no weights can be downloaded here), one frame per call through
  open_clip's own PIL preprocessing, scored with the explicit projection matrix.
* ``naive_same_model``: the naive pipeline (default visuals, 224 px render, one frame per call, PIL
  preprocessing) but with the studio CLIP: isolates what batching and render profiles buy.

The studio pipeline runs with ``--threads`` torch threads (default 1, as the training worker); the naive
pipelines are measured with that and with torch's default (all cores), and compared with the faster.
Also: re-scoring 100k stored embeddings after a prompt/alpha edit (``rescore_100k_s``).
Headline keys: ``reward_steps_per_s``, ``speedup_vs_naive``, ``speedup_vs_naive_same_model``,
``rescore_100k_s``.
"""

from __future__ import annotations

import time

from worlds import gl  # noqa: F401

import numpy as np
import torch
from PIL import Image

import worlds
from agents.vlm.clip_reward import fast_reward, vlm_rm_reward
from agents.vlm.embedder import ClipEmbedder, default_embedder
from bench.common import PUSH_BASELINE, PUSH_GOAL, finish, parser
from worlds.rendering import ProfileRenderer, TiledRenderer, get_profile

GOAL, BASELINE = [PUSH_GOAL], [PUSH_BASELINE]
DEFAULT_THREADS = torch.get_num_threads()


def push_envs(n: int, first_seed: int = 0) -> list:
    """``n`` push worlds (red cube, blue pad) framed by the ``workspace`` camera, reset with seeds
    ``first_seed``, ``first_seed + 1``, ..."""
    envs = [worlds.make("studio/Push-v0", render_mode=None, camera="workspace", render_profile="reward",
                        colors=["red"], pad_colors=["blue"]) for _ in range(n)]
    for i, env in enumerate(envs):
        env.reset(seed=first_seed + i)
    return envs


def render_window(envs: list, rng: np.random.Generator, out: np.ndarray, size: int,
                  tiled: TiledRenderer | None = None) -> None:
    """Step every env ``len(out) // len(envs)`` times with random actions, rendering each step's reward frame
    at ``size`` px into ``out`` (step ``t`` of env ``i`` at ``t * len(envs) + i``); finished episodes restart.

    With ``tiled`` (a :class:`~worlds.rendering.TiledRenderer` of ``len(envs)`` tiles at ``size`` px) all envs
    step, then one call draws every env's frame of that step; otherwise each env renders its own.
    """
    n = len(envs)
    for t in range(len(out) // n):
        ended = []
        for i, env in enumerate(envs):
            _, _, term, trunc, _ = env.step(rng.uniform(-1, 1, 4))
            if tiled is None:
                out[t * n + i] = env.unwrapped.render_camera("workspace", "reward", size, size)
            if term or trunc:
                ended.append(env)
        if tiled is not None:
            tiled.render_envs(envs, "workspace", out=out[t * n:(t + 1) * n])
        for env in ended:                 # after the frame of the last step is drawn
            env.reset()


def studio_pipeline(embedder: ClipEmbedder, seconds: float, n_envs: int = 8, window: int = 32) -> float:
    """Reward-steps/s of the studio pipeline (see module docstring)."""
    envs = push_envs(n_envs)
    goal, base = embedder.embed_texts(GOAL), embedder.embed_texts(BASELINE)
    rng = np.random.default_rng(0)
    size = embedder.image_size[0]
    frames = np.empty((window * n_envs, size, size, 3), np.uint8)
    # One window before the clock starts: the envs' GL contexts are made on their first frame and torch's
    # first call is slow; the naive pipeline's renderer and model are likewise made before its clock starts.
    render_window(envs, rng, frames, size)
    fast_reward(embedder.embed_images(frames), goal, base, alpha=0.5)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        render_window(envs, rng, frames, size)
        emb = embedder.embed_images(frames)
        rewards = fast_reward(emb, goal, base, alpha=0.5)
        steps += len(rewards)
    elapsed = time.perf_counter() - start
    for env in envs:
        env.close()
    return steps / elapsed


def naive_pipeline(model, preprocess, tokenizer, seconds: float, size: int = 224, device: str = "cpu") -> float:
    """Reward-steps/s, one frame at a time at ``size`` px under MuJoCo's default visuals (``model`` on
    ``device``, float32)."""
    env = worlds.make("studio/Push-v0", render_mode=None, colors=["red"], pad_colors=["blue"])
    env.reset(seed=0)
    u = env.unwrapped
    renderer = ProfileRenderer(u.model, get_profile("default").sized(size, size))
    with torch.no_grad():
        goal = torch.nn.functional.normalize(model.encode_text(tokenizer(GOAL).to(device)), dim=-1).cpu().numpy()
        base = torch.nn.functional.normalize(model.encode_text(tokenizer(BASELINE).to(device)), dim=-1).cpu().numpy()
    rng = np.random.default_rng(0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        _, _, term, trunc, _ = env.step(rng.uniform(-1, 1, 4))
        frame = renderer.render(u.data, "workspace")
        with torch.no_grad():
            emb = model.encode_image(preprocess(Image.fromarray(frame)).unsqueeze(0).to(device))
        emb = torch.nn.functional.normalize(emb, dim=-1).cpu().numpy()
        vlm_rm_reward(emb, goal, base, alpha=0.5)
        steps += 1
        if term or trunc:
            env.reset()
    elapsed = time.perf_counter() - start
    renderer.close()
    env.close()
    return steps / elapsed


def rescore_time(dim: int, n: int = 100_000) -> float:
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(n, dim)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    goal = rng.normal(size=(1, dim)).astype(np.float32)
    base = rng.normal(size=(1, dim)).astype(np.float32)
    goal /= np.linalg.norm(goal)
    base /= np.linalg.norm(base)
    fast_reward(emb, goal, base, alpha=0.5)
    start = time.perf_counter()
    for _ in range(5):
        fast_reward(emb, goal, base, alpha=0.5)
    return (time.perf_counter() - start) / 5


def main(argv=None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1, as the training worker uses: with 2, torch stalls whenever "
                        "another process is busy on a 2-core machine)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    seconds = 6.0 if args.quick else 30.0
    torch.manual_seed(0)
    studio = default_embedder()
    studio_rate = studio_pipeline(studio, seconds)

    import open_clip

    vit, _, vit_pre = open_clip.create_model_and_transforms("ViT-B-32")     # random weights: speed only
    vit.eval()
    # The naive user keeps torch's default threads (all cores); measure both and compare with the faster,
    # so the speed-ups are not flattered by a thread setting.
    naive_by_threads, same_by_threads = {}, {}
    for threads in sorted({args.threads, DEFAULT_THREADS}):
        torch.set_num_threads(threads)
        naive_by_threads[threads] = naive_pipeline(vit, vit_pre, open_clip.get_tokenizer("ViT-B-32"), seconds / 2)
        same_by_threads[threads] = naive_pipeline(studio.model, studio.preprocess, studio.tokenizer, seconds / 2)
    torch.set_num_threads(args.threads)
    naive_rate, same_rate = max(naive_by_threads.values()), max(same_by_threads.values())

    headline = {
        "reward_steps_per_s": round(studio_rate, 1),
        "naive_vitb32_steps_per_s": round(naive_rate, 2),
        "naive_same_model_steps_per_s": round(same_rate, 1),
        "speedup_vs_naive": round(studio_rate / naive_rate, 1),
        "speedup_vs_naive_same_model": round(studio_rate / same_rate, 1),
        "rescore_100k_s": round(rescore_time(studio.embed_dim), 4),
        "quick": args.quick,
    }
    details = {"rescore_100k_s_dim512": round(rescore_time(512), 4), "studio_model": studio.name,
               "naive_vitb32_steps_per_s_by_threads": {t: round(v, 2) for t, v in naive_by_threads.items()},
               "naive_same_model_steps_per_s_by_threads": {t: round(v, 1) for t, v in same_by_threads.items()},
               "n_envs": 8, "window_steps": 32, "torch_threads": torch.get_num_threads(),
               "device": "cpu"}
    finish("reward", details, headline, args.out)
    return headline


if __name__ == "__main__":
    main()
