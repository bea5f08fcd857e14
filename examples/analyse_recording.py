# %% [markdown]
# # Analyse a Reward Studio recording with plain Minari
#
# A recording is a Minari dataset (arrow format). This script needs only `minari`, `numpy` and `matplotlib`,
# not the studio. Run it as a script, or open it in Jupyter/VS Code (the `# %%` lines are cells):
#
#     python examples/analyse_recording.py runs/<run id>/recordings studio/push/train-v0 --out analysis.png
#
# `python -m studio recordings list` prints the recordings and their folders.

# %%
import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import minari  # noqa: E402
import numpy as np  # noqa: E402

args = argparse.ArgumentParser(description=__doc__)
args.add_argument("root", nargs="?", default="runs", help="the Minari root: runs/<run id>/recordings")
args.add_argument("dataset_id", nargs="?", default="studio/push/train-v0")
args.add_argument("--out", default="recording_analysis.png")
opts = args.parse_args(sys.argv[1:] if "ipykernel" not in sys.modules else [])

# %% Load: MINARI_DATASETS_PATH tells Minari where the datasets are.
os.environ["MINARI_DATASETS_PATH"] = opts.root
dataset = minari.load_dataset(opts.dataset_id)
meta = dataset.storage.metadata.get("studio", {})
print(f"{dataset.id}: {dataset.total_episodes} episodes, {dataset.total_steps} steps, "
      f"world {meta.get('world_id')}, run {meta.get('run_id')}, {len(meta.get('reward_specs', []))} reward version(s)")

# %% Per-episode numbers. Infos hold one column per reward term (`reward_<term>`, they sum to the reward the
# agent saw), the world's own terms (`world_reward_<term>`), ground-truth `is_success` and `spec_version`.
# Row 0 of the infos belongs to the reset observation.
episodes = list(dataset.iterate_episodes())
terms = sorted(k[len("reward_"):] for k in episodes[0].infos if k.startswith("reward_"))
success = np.array([bool(ep.infos["is_success"][-1]) for ep in episodes])
term_returns = {t: np.array([ep.infos[f"reward_{t}"][1:].sum() for ep in episodes]) for t in terms}
returns = np.array([ep.rewards.sum() for ep in episodes])
check = sum(term_returns.values()) if terms else returns
print(f"success rate {success.mean():.0%}; terms {terms}; terms sum to the reward: "
      f"{np.allclose(check, returns, atol=1e-4)}")

# %% Plot: each term's episode return against ground-truth success, and the success rate over the recording.
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
ax = axes[0]
for i, t in enumerate(terms):
    for j, (label, mask) in enumerate((("failed", ~success), ("succeeded", success))):
        values = term_returns[t][mask]
        x = i + (j - 0.5) * 0.35
        ax.scatter(np.full(len(values), x) + np.random.default_rng(0).uniform(-0.08, 0.08, len(values)), values,
                   s=10, alpha=0.6, color="tab:green" if j else "tab:red", label=label if i == 0 else None)
ax.set_xticks(range(len(terms)), terms)
ax.set_ylabel("episode return of the term")
ax.set_title("per-term return vs ground-truth success")
ax.legend()
ax = axes[1]
k = max(1, len(success) // 10)
ax.plot(np.arange(len(success)), np.convolve(success, np.ones(k) / k, mode="same"), label=f"success (mean of {k})")
versions = np.array([int(ep.infos["spec_version"][-1]) for ep in episodes])
for change in np.flatnonzero(np.diff(versions)) + 1:
    ax.axvline(change, color="gray", linestyle="--")
    ax.text(change, 1.02, f"v{versions[change]}", ha="center", fontsize=8)
ax.set_ylim(-0.02, 1.08)
ax.set_xlabel("episode (in the order they finished)")
ax.set_title("success over the recording; dashed: reward edits")
ax.legend()
fig.tight_layout()
fig.savefig(opts.out, dpi=100)
print(f"wrote {opts.out}")
