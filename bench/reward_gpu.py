"""CLIP reward throughput with the work spread over every core and the GPU: physics + render + embed + score.

``python -m bench.reward_gpu [--quick] [--configs WxK ...] [--models ...]`` measures the
studio's reward pipeline scaled out, for a machine with a GPU (run it through the device tool; it also runs
on the CPU, where it shows what process-parallel rendering buys on a laptop):

* ``parallel``: ``W`` rendering processes, each stepping ``K`` push environments with random actions and
  rendering every step's ``workspace`` frame under the ``reward`` profile at the model's own input size (224
  px for ViT-B-32: no upsampling of small frames). Frames go into shared memory (never pickled), double
  buffered: while the main process embeds one window of steps from every worker in one batched call (bf16
  autocast on CUDA) and scores it with the closed-form VLM-RM reward, the workers already render the next.
  Each ``--configs`` entry ``WxK`` is measured (the window is set so every call embeds about
  ``--frames-per-call`` frames); the headline reports the fastest, and ``details`` every one.
* ``naive``: what a user copying VLM-RM gets on the same machine: one environment, MuJoCo's default visual
  settings at 224 px, one frame per call through open_clip's PIL preprocessing, the model on the same device
  (float32), scored with the explicit projection matrix. Measured in the same run: the ratio is the headline.

ViT-B-32 runs with random weights (throughput only; no weights can be downloaded on these machines), the
studio CLIP with its shipped checkpoint. On CUDA the run also checks that the bf16 path embeds like the CPU:
``cuda_vs_cpu_cosine_min``, the smallest cosine between the studio CLIP's CUDA and CPU embeddings of the
same frames. Writes ``bench/results/reward_gpu.json`` (``reward_gpu_cpu.json`` when no GPU is present, so a
laptop run never overwrites the GPU figures). Headline keys: ``vitb32_reward_steps_per_s``,
``vitb32_speedup_vs_naive``, ``studio_reward_steps_per_s``, ``device``, ``gpu``, ``workers`` and
``envs_per_worker`` (of the fastest ViT-B-32 configuration, else the studio CLIP's).

Measured on one H100 with 16 cores (``--configs 15x1 30x1 14x8``, in ``bench/results/reward_gpu.json``):
ViT-B-32 3,543 reward-steps/s at best (target 5,000, missed), 42x the naive pipeline on the same GPU; the
studio CLIP 4,726. With the studio CLIP the renderers are the limit: embedding keeps the main process only
8-22% busy, yet 15 and 30 rendering processes give the same total (4,714 and 4,726 steps/s, i.e. 314 and 157
per process at 96 px). With ViT-B-32 the GPU is shared: as rendering processes go from 15 to 30, embedding
a frame takes 248 us instead of 163 (the main process is then 88% busy), so embedding alone would stop near
4,000 steps/s; the CUDA work and 15-30 GL contexts take the GPU in turns. These runs do not separate the
cores from the GPU's time-slicing as the renderers' limit. The levers are cheaper steps: one GL context per
process rendering all its environments with one read-back, and fewer physics substeps per step (20 now).
On that machine MuJoCo rendered through EGL on the
GPU (``GL_RENDERER`` "NVIDIA H100 80GB HBM3/PCIe/SSE2", with libglvnd's EGL loader installed and
``MUJOCO_GL=egl``); a first run with ``14x8``, 16-step windows and 256-image forward passes gave 3,273.
"""

from __future__ import annotations

import multiprocessing as mp
import multiprocessing.connection
import os
import time
from multiprocessing import shared_memory

from worlds import gl  # noqa: F401

import numpy as np
import torch

from agents.vlm.clip_reward import fast_reward
from agents.vlm.embedder import ClipEmbedder, default_embedder
from bench.common import finish, parser
from bench.reward import BASELINE, GOAL, naive_pipeline, push_envs, render_window

MODELS = ("ViT-B-32", "studio")


def _render_worker(conn, shm_name: str, shape: tuple, worker: int, seed: int, window: int) -> None:
    """Step ``K`` push envs with random actions, rendering each step into ``buffer[b, worker]`` whenever the
    main process sends ``b``; answers ``b`` when that window is full. ``None`` stops it."""
    _, _, per_window, size = shape[:4]
    k = per_window // window
    shm = shared_memory.SharedMemory(name=shm_name)
    frames = np.ndarray(shape, np.uint8, buffer=shm.buf)
    envs = push_envs(k, seed)
    rng = np.random.default_rng(seed)
    conn.send("ready")
    while (b := conn.recv()) is not None:
        render_window(envs, rng, frames[b, worker], size)
        conn.send(b)
    for env in envs:
        env.close()
    del frames
    shm.close()


WORKER_TIMEOUT_S = 120.0     # a worker silent this long (or dead) stops the run with an error


def _receive(conn, proc, worker: int):
    """The next message from ``worker``; raises when it died or stays silent (never blocks for ever)."""
    ready = mp.connection.wait([conn, proc.sentinel], timeout=WORKER_TIMEOUT_S)
    if conn in ready:
        try:
            return conn.recv()
        except EOFError:
            pass
    if not ready:
        raise RuntimeError(f"rendering worker {worker} sent nothing for {WORKER_TIMEOUT_S:.0f} s")
    proc.join(timeout=5)
    raise RuntimeError(f"rendering worker {worker} stopped (exit code {proc.exitcode}); its error is printed "
                       f"above (run with --configs 1x1 to see it alone)")


def parallel_pipeline(embedder: ClipEmbedder, seconds: float, workers: int, envs_per_worker: int,
                      window: int = 16) -> dict:
    """Reward-steps/s of the scaled-out pipeline (see module docstring), and where the main process spent
    its time (``embed_share``: the share spent embedding and scoring; the rest is waiting for frames)."""
    size = embedder.image_size[0]
    shape = (2, workers, window * envs_per_worker, size, size, 3)
    shm = shared_memory.SharedMemory(create=True, size=int(np.prod(shape)))
    frames = np.ndarray(shape, np.uint8, buffer=shm.buf)
    ctx = mp.get_context("spawn")     # each worker makes its own GL context; nothing of torch is inherited
    pipes, procs = [], []
    try:
        for w in range(workers):
            parent, child = ctx.Pipe()
            p = ctx.Process(target=_render_worker, args=(child, shm.name, shape, w, 1000 * w, window), daemon=True)
            p.start()
            child.close()             # only the worker holds it now, so its death reads as EOF here
            pipes.append(parent)
            procs.append(p)

        def receive_all() -> None:
            for w, (c, p) in enumerate(zip(pipes, procs)):
                _receive(c, p, w)

        receive_all()                 # every worker has made its envs and GL context
        goal, base = embedder.embed_texts(GOAL), embedder.embed_texts(BASELINE)

        def run_window(b: int) -> tuple[int, float]:
            receive_all()                     # window b is full
            for c in pipes:
                c.send(1 - b)                 # the workers render the next window while this one is embedded
            t = time.perf_counter()
            rewards = fast_reward(embedder.embed_images(frames[b].reshape(-1, size, size, 3)), goal, base, alpha=0.5)
            return len(rewards), time.perf_counter() - t

        for c in pipes:
            c.send(0)
        b = 0
        for _ in range(2):                    # warm-up: worker start, CUDA kernels, autotuning
            run_window(b)
            b = 1 - b
        steps, busy, start = 0, 0.0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            n, t = run_window(b)
            steps, busy, b = steps + n, busy + t, 1 - b
        elapsed = time.perf_counter() - start
        receive_all()
        for c in pipes:
            c.send(None)
    finally:
        for c in pipes:               # after an error, a worker waiting for work reads EOF and ends
            c.close()
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
                p.join()
        del frames
        shm.unlink()                  # first: the segment goes even if a view still pins the mapping
        try:
            shm.close()
        except BufferError:           # an exception's traceback can still hold a view of the frames
            pass
    return {"reward_steps_per_s": round(steps / elapsed, 1), "embed_share": round(busy / elapsed, 3),
            "frames_per_call": workers * window * envs_per_worker, "frame_px": size}


def cuda_parity(n: int = 64) -> float:
    """Smallest cosine between the studio CLIP's CUDA (bf16 autocast) and CPU embeddings of ``n`` frames."""
    import worlds

    env = worlds.make("studio/Push-v0", render_mode=None, camera="workspace", render_profile="reward")
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    shots = []
    for _ in range(n):
        env.step(rng.uniform(-1, 1, 4))
        shots.append(env.unwrapped.render_camera("workspace", "reward"))
    env.close()
    shots = np.stack(shots)
    gpu, cpu = default_embedder("cuda").embed_images(shots), default_embedder("cpu").embed_images(shots)
    return float(np.min(np.sum(gpu * cpu, axis=1)))


def parse_config(text: str) -> tuple[int, int]:
    """``"14x8"`` -> ``(14, 8)``: rendering processes x environments per process."""
    try:
        workers, envs = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"--configs {text!r} is not WxK (rendering processes x environments each), e.g. 14x8")
    if workers < 1 or envs < 1:
        raise SystemExit(f"--configs {text!r}: both numbers must be at least 1")
    return workers, envs


def sweep(embedder: ClipEmbedder, configs: list[tuple[int, int]], seconds: float, frames_per_call: int) -> dict:
    """:func:`parallel_pipeline` for every ``(workers, envs)``; returns ``{"WxK": result}``."""
    out = {}
    for workers, envs in configs:
        window = max(1, round(frames_per_call / (workers * envs)))
        out[f"{workers}x{envs}"] = parallel_pipeline(embedder, seconds, workers, envs, window)
        print(embedder.model_name, f"{workers}x{envs}", out[f"{workers}x{envs}"], flush=True)
    return out


def _best(results: dict) -> tuple[str, dict]:
    return max(results.items(), key=lambda kv: kv[1]["reward_steps_per_s"])


def main(argv=None) -> dict:
    p = parser(__doc__.splitlines()[0])
    cores = os.cpu_count() or 2
    p.add_argument("--configs", nargs="+", default=None,
                   help="WxK: W rendering processes with K environments each (default: all cores but two, x8)")
    p.add_argument("--frames-per-call", type=int, default=1536, help="frames embedded per batched call (about)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="images per forward pass (default 1024 on a GPU, the embedder's 256 on the CPU)")
    p.add_argument("--models", nargs="+", default=None, choices=MODELS,
                   help="default: both on a GPU; only the studio CLIP on the CPU (ViT-B-32 embeds ~8 frames/s there)")
    args = p.parse_args(argv)
    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    models = args.models or (list(MODELS) if cuda else ["studio"])
    seconds = 5.0 if args.quick else 15.0
    configs = [parse_config(c) for c in (args.configs or [f"{max(1, cores - 2)}x8"])]
    batch = args.batch_size or (1024 if cuda else 256)
    if not cuda:
        torch.set_num_threads(1)       # the cores render; the main process embeds on one thread
    torch.manual_seed(0)
    import open_clip

    headline = {"device": device, "gpu": torch.cuda.get_device_name(0) if cuda else None, "cpu_count": cores,
                "quick": args.quick}
    details: dict = {"frames_per_call": args.frames_per_call, "batch_size": batch, "seconds_per_config": seconds}
    if "ViT-B-32" in models:
        vit = ClipEmbedder("ViT-B-32", pretrained=None, device=device, batch_size=batch)   # random weights: speed only
        details["vitb32"] = sweep(vit, configs, seconds, args.frames_per_call)
        best, par = _best(details["vitb32"])
        model, _, pre = open_clip.create_model_and_transforms("ViT-B-32", device=device)
        model.eval()
        naive = naive_pipeline(model, pre, open_clip.get_tokenizer("ViT-B-32"), seconds / 2, device=device)
        headline.update(vitb32_reward_steps_per_s=par["reward_steps_per_s"],
                        vitb32_naive_steps_per_s=round(naive, 1),
                        vitb32_speedup_vs_naive=round(par["reward_steps_per_s"] / naive, 1),
                        workers=int(best.split("x")[0]), envs_per_worker=int(best.split("x")[1]))
        del vit, model
    if "studio" in models:
        studio = default_embedder(device)
        studio.batch_size = batch
        details["studio"] = sweep(studio, configs, seconds, args.frames_per_call)
        best, par = _best(details["studio"])
        headline["studio_reward_steps_per_s"] = par["reward_steps_per_s"]
        headline.setdefault("workers", int(best.split("x")[0]))
        headline.setdefault("envs_per_worker", int(best.split("x")[1]))
    if cuda:
        headline["cuda_vs_cpu_cosine_min"] = round(cuda_parity(), 4)
    name = "reward_gpu" if cuda else "reward_gpu_cpu"
    finish(name, details, headline, args.out)
    return headline


if __name__ == "__main__":
    main()
