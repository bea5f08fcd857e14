"""CLIP reward throughput with the work spread over every core and the GPU: physics + render + embed + score.

``python -m bench.reward_gpu [--quick] [--configs WxK ...] [--models ...]`` measures the
studio's reward pipeline scaled out, for a machine with a GPU (run it through the device tool; it also runs
on the CPU, where it shows what process-parallel rendering buys on a laptop):

* ``parallel``: ``W`` rendering processes, each stepping ``K`` push environments with random actions and
  rendering every step's ``workspace`` frame under the ``reward`` profile at the model's own input size (224
  px for ViT-B-32: no upsampling of small frames). A process draws all ``K`` frames of a step in one GL
  context and reads them back at once (:class:`~worlds.rendering.TiledRenderer`); ``WxK:each`` gives every
  environment its own context and read-back instead. Frames go into shared memory (never pickled), double
  buffered: while the main process embeds one window of steps from every worker in one batched call (bf16
  autocast on CUDA) and scores it with the closed-form VLM-RM reward, the workers already render the next.
  Each ``--configs`` entry ``WxK`` is measured (the window is set so every call embeds about
  ``--frames-per-call`` frames); the headline reports the fastest, and ``details`` every one (a
  configuration that fails is recorded with its error). Options after colons: :data:`CONFIG_OPTIONS`.
* ``embed only``: the embedder's ceiling with no renderer running (``details["<model>_embed_only"]``),
  and the share of it the host-to-device copy of raw frames takes.
* ``naive``: what a user copying VLM-RM gets on the same machine: one environment, MuJoCo's default visual
  settings at 224 px, one frame per call through open_clip's PIL preprocessing, the model on the same device
  (float32), scored with the explicit projection matrix. Measured in the same run: the ratio is the headline.

ViT-B-32 runs with random weights (throughput only; no weights can be downloaded on these machines), the
studio CLIP with its shipped checkpoint. On CUDA the run also checks that the bf16 path embeds like the CPU:
``cuda_vs_cpu_cosine_min``, the smallest cosine between the studio CLIP's CUDA and CPU embeddings of the
same frames. Writes ``bench/results/reward_gpu.json`` (``reward_gpu_cpu.json`` when no GPU is present, so a
laptop run never overwrites the GPU figures). Headline keys: ``vitb32_reward_steps_per_s``,
``vitb32_speedup_vs_naive``, ``studio_reward_steps_per_s``, ``device``, ``gpu``, and of the fastest ViT-B-32
configuration (else the studio CLIP's) ``workers``, ``envs_per_worker``, ``tiled`` and ``gl_yield_usleep``.

Measured on one H100 with 16 cores (``--seconds 10 --configs 30x1:each 15x8 15x16 15x8:usleep 15x8:pinned``, in
``bench/results/reward_gpu.json``): ViT-B-32 6,593 reward-steps/s at best (``15x16``; target 5,000), the untiled
``30x1:each`` 3,625 in the same run (tiling: 1.82x), 105x the naive pipeline on the same GPU (62.9); the studio CLIP
7,627 at best unpinned (``15x16``; 7,778 with ``15x8:pinned``; untiled 4,774). A repeat on another H100 machine
(``--models ViT-B-32 --configs 30x1:each 15x16 15x16:usleep``, ``bench/results/reward_gpu_repeat.json``): 5,593 tiled,
3,453 untiled (1.62x). Before tiling, 15 and 30 processes of one environment each gave the same total, and embedding
slowed as GL contexts were added: per-frame GL contexts and read-backs, time-sliced on the GPU beside the CUDA work,
were the limit. Now embedding alone reaches 14,500-15,000 ViT-B-32 frames/s (29-32% of it the copy of raw uint8 frames
to the GPU) and the main process is 62-76% busy in the tiled pipeline: the renderers (physics, Python step overhead,
draw calls) are the limit. Page-locking the frame buffer (``:pinned``) lowered the embedder's busy share from 74% to 52%
and moved the total by +0.5% (ViT-B-32) and +3.6% (studio CLIP), within noise; ``__GL_YIELD=USLEEP`` gave +10% in one
run and -1% in the other (noise). MuJoCo rendered through EGL on the GPU (``GL_RENDERER`` "NVIDIA H100 80GB
HBM3/PCIe/SSE2", with libglvnd's EGL loader installed and ``MUJOCO_GL=egl``). The earlier, untiled record: ``--configs
15x1 30x1 14x8`` gave 3,543 (14x8 then meant 8 GL contexts per process: 3,393). Both GPU runs predate two CPU savings
(``env.step`` 0.50 -> 0.26 ms, preprocessing 10x cheaper), so today's code is not measured there.
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
from worlds.rendering import TiledRenderer, get_profile

MODELS = ("ViT-B-32", "studio")


def _render_worker(conn, shm_name: str, shape: tuple, worker: int, seed: int, window: int, tiled: bool) -> None:
    """Step ``K`` push envs with random actions, rendering each step into ``buffer[b, worker]`` whenever the
    main process sends ``b``; answers ``b`` when that window is full. ``None`` stops it. ``tiled``: one
    :class:`~worlds.rendering.TiledRenderer` draws all ``K`` envs' frames of a step (one GL context, one
    read-back); else each env renders with its own context."""
    _, _, per_window, size = shape[:4]
    k = per_window // window
    shm = shared_memory.SharedMemory(name=shm_name)
    frames = np.ndarray(shape, np.uint8, buffer=shm.buf)
    envs = push_envs(k, seed)
    renderer = TiledRenderer(envs[0].unwrapped.model, get_profile("reward").sized(size, size), k) if tiled else None
    rng = np.random.default_rng(seed)
    conn.send("ready")
    while (b := conn.recv()) is not None:
        render_window(envs, rng, frames[b, worker], size, renderer)
        conn.send(b)
    if renderer is not None:
        renderer.close()
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
    # Its pipe closed as it exits; a spawned process can take seconds to get there, and more than 20 on a loaded
    # 2-core machine (the test of this read exit code None there once).
    proc.join(timeout=60)
    raise RuntimeError(f"rendering worker {worker} stopped (exit code {proc.exitcode}); its error is printed "
                       f"above (run with --configs 1x1 to see it alone)")


def parallel_pipeline(embedder: ClipEmbedder, seconds: float, workers: int, envs_per_worker: int,
                      window: int = 16, tiled: bool = True, gl_env: dict | None = None,
                      pinned: bool = False) -> dict:
    """Reward-steps/s of the scaled-out pipeline (see module docstring), and where the main process spent
    its time (``embed_share``: the share spent embedding and scoring; the rest is waiting for frames).
    ``gl_env``: environment variables the rendering processes start with (e.g. the GL driver's). ``pinned``
    (CUDA only): page-lock the shared frame buffer for the length of the run."""
    size = embedder.image_size[0]
    shape = (2, workers, window * envs_per_worker, size, size, 3)
    shm = shared_memory.SharedMemory(create=True, size=int(np.prod(shape)))
    frames = np.ndarray(shape, np.uint8, buffer=shm.buf)
    registered = False
    ctx = mp.get_context("spawn")     # each worker makes its own GL context; nothing of torch is inherited
    pipes, procs = [], []
    try:
        if pinned and embedder.device.type == "cuda":
            cudart = torch.cuda.cudart()
            if not hasattr(cudart, "cudaHostRegister"):
                raise RuntimeError("this torch build exposes no cudaHostRegister; run without ':pinned'")
            rc = cudart.cudaHostRegister(frames.ctypes.data, frames.nbytes, 0)
            if int(rc) != 0:
                raise RuntimeError(f"cudaHostRegister of the {frames.nbytes / 1e6:.0f} MB frame buffer failed "
                                   f"({rc}); run without ':pinned'")
            registered = True
        saved = {k: os.environ.get(k) for k in (gl_env or {})}
        os.environ.update(gl_env or {})   # a spawned process starts with the parent's environment
        try:
            for w in range(workers):
                parent, child = ctx.Pipe()
                p = ctx.Process(target=_render_worker, args=(child, shm.name, shape, w, 1000 * w, window, tiled),
                                daemon=True)
                p.start()
                child.close()         # only the worker holds it now, so its death reads as EOF here
                pipes.append(parent)
                procs.append(p)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

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
        if registered:
            torch.cuda.cudart().cudaHostUnregister(frames.ctypes.data)
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


CONFIG_OPTIONS = {
    "each": "each environment renders with its own GL context and read-back (the untiled baseline)",
    "usleep": "rendering processes start with __GL_YIELD=USLEEP (NVIDIA's GL driver sleeps, not spins, "
              "while it waits for the GPU)",
    "pinned": "the shared frame buffer is page-locked for CUDA (cudaHostRegister), so frames reach the GPU by "
              "DMA instead of through a staging copy",
}


def parse_config(text: str) -> tuple[int, int, tuple[str, ...]]:
    """``"14x8"`` -> ``(14, 8, ())``: rendering processes x environments per process, then options after
    colons (:data:`CONFIG_OPTIONS`), e.g. ``"14x8:each"`` -> ``(14, 8, ("each",))``."""
    size, *options = text.lower().split(":")
    try:
        workers, envs = (int(v) for v in size.split("x"))
    except ValueError:
        raise SystemExit(f"--configs {text!r} is not WxK (rendering processes x environments each), e.g. 14x8")
    if workers < 1 or envs < 1:
        raise SystemExit(f"--configs {text!r}: both numbers must be at least 1")
    for option in options:
        if option not in CONFIG_OPTIONS:
            raise SystemExit(f"--configs {text!r}: unknown option {option!r}; choose from {sorted(CONFIG_OPTIONS)}")
    return workers, envs, tuple(options)


def config_name(workers: int, envs: int, options: tuple[str, ...]) -> str:
    return ":".join([f"{workers}x{envs}", *options])


def sweep(embedder: ClipEmbedder, configs: list[tuple[int, int, tuple[str, ...]]], seconds: float,
          frames_per_call: int) -> dict:
    """:func:`parallel_pipeline` for every ``(workers, envs, options)``; returns ``{"WxK[:option]": result}``."""
    out = {}
    for workers, envs, options in configs:
        window = max(1, round(frames_per_call / (workers * envs)))
        gl_env = {"__GL_YIELD": "USLEEP"} if "usleep" in options else None
        name = config_name(workers, envs, options)
        try:
            out[name] = parallel_pipeline(embedder, seconds, workers, envs, window, tiled="each" not in options,
                                          gl_env=gl_env, pinned="pinned" in options)
        except (RuntimeError, OSError) as err:    # one failing (a GL or CUDA limit): the rest still run
            out[name] = {"error": str(err)}
        print(embedder.model_name, name, out[name], flush=True)
    return out


def embed_only(embedder: ClipEmbedder, frames: int, seconds: float) -> dict:
    """The embedder's own ceiling, with no renderer running: frames/s embedding and scoring windows of
    ``frames`` push frames (held in host memory, as the pipeline's are), and the share of that time the
    host-to-device copy of the raw frames alone takes (0 on the CPU)."""
    size = embedder.image_size[0]
    envs = push_envs(8)
    shots = np.empty((max(8, frames // 8 * 8), size, size, 3), np.uint8)
    render_window(envs, np.random.default_rng(0), shots, size)
    for env in envs:
        env.close()
    goal, base = embedder.embed_texts(GOAL), embedder.embed_texts(BASELINE)
    fast_reward(embedder.embed_images(shots), goal, base, alpha=0.5)      # warm-up
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        n += len(fast_reward(embedder.embed_images(shots), goal, base, alpha=0.5))
    elapsed = time.perf_counter() - start
    copy_share = 0.0
    if embedder.device.type == "cuda":
        torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(3):
            torch.as_tensor(shots).to(embedder.device)
        torch.cuda.synchronize()
        copy_share = (time.perf_counter() - t) / 3 / (elapsed * len(shots) / n)
    return {"frames_per_s": round(n / elapsed, 1), "copy_share": round(copy_share, 3), "frame_px": size}


def _best(results: dict) -> tuple[str, dict]:
    ran = {k: v for k, v in results.items() if "error" not in v}
    if not ran:
        raise SystemExit(f"every configuration failed: {results}")
    return max(ran.items(), key=lambda kv: kv[1]["reward_steps_per_s"])


def _headline_config(name: str) -> dict:
    workers, envs, options = parse_config(name)
    return {"workers": workers, "envs_per_worker": envs, "tiled": "each" not in options,
            "gl_yield_usleep": "usleep" in options}


def main(argv=None) -> dict:
    p = parser(__doc__.splitlines()[0])
    cores = os.cpu_count() or 2
    p.add_argument("--configs", nargs="+", default=None,
                   help="WxK[:option]: W rendering processes with K environments each, drawn by one tiled "
                        "renderer unless ':each' (default: all cores but one, x16, the fastest on the H100); options: "
                        + "; ".join(f"{k}: {v}" for k, v in CONFIG_OPTIONS.items()))
    p.add_argument("--frames-per-call", type=int, default=1536, help="frames embedded per batched call (about)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="images per forward pass (default 1024 on a GPU, the embedder's 256 on the CPU)")
    p.add_argument("--models", nargs="+", default=None, choices=MODELS,
                   help="default: both on a GPU; only the studio CLIP on the CPU (ViT-B-32 embeds ~8 frames/s there)")
    p.add_argument("--seconds", type=float, default=None,
                   help="seconds measured per configuration (default 15; 5 with --quick)")
    args = p.parse_args(argv)
    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    models = args.models or (list(MODELS) if cuda else ["studio"])
    seconds = args.seconds or (5.0 if args.quick else 15.0)
    configs = [parse_config(c) for c in (args.configs or [f"{max(1, cores - 1)}x16"])]
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
        details["vitb32_embed_only"] = embed_only(vit, args.frames_per_call, seconds / 2)
        print("ViT-B-32 embed only", details["vitb32_embed_only"], flush=True)
        best, par = _best(details["vitb32"])
        model, _, pre = open_clip.create_model_and_transforms("ViT-B-32", device=device)
        model.eval()
        naive = naive_pipeline(model, pre, open_clip.get_tokenizer("ViT-B-32"), seconds / 2, device=device)
        headline.update(vitb32_reward_steps_per_s=par["reward_steps_per_s"],
                        vitb32_naive_steps_per_s=round(naive, 1),
                        vitb32_speedup_vs_naive=round(par["reward_steps_per_s"] / naive, 1),
                        **_headline_config(best))
        del vit, model
    if "studio" in models:
        studio = default_embedder(device)
        studio.batch_size = batch
        details["studio"] = sweep(studio, configs, seconds, args.frames_per_call)
        details["studio_embed_only"] = embed_only(studio, args.frames_per_call, seconds / 2)
        print("studio embed only", details["studio_embed_only"], flush=True)
        best, par = _best(details["studio"])
        headline["studio_reward_steps_per_s"] = par["reward_steps_per_s"]
        for key, value in _headline_config(best).items():
            headline.setdefault(key, value)
    if cuda:
        headline["cuda_vs_cpu_cosine_min"] = round(cuda_parity(), 4)
    name = "reward_gpu" if cuda else "reward_gpu_cpu"
    finish(name, details, headline, args.out)
    return headline


if __name__ == "__main__":
    main()
