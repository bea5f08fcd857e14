"""Shared fixtures. Importing ``worlds`` first sets MUJOCO_GL before anything imports mujoco."""

import pytest

import worlds  # noqa: F401


@pytest.fixture(scope="module")
def one_torch_thread():
    """Like the training worker: two torch threads stall badly on a busy 2-core machine. Restored afterwards."""
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Expose each phase's report on the test item (``item.rep_call``) so fixtures can screenshot failures."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def trainer_texts(tmp_path, monkeypatch):
    """``run(**options)`` trains the studio CLIP on a tiny draw (no learning, no measurement) and returns its
    sidecar metadata and every caption text the trainer wrote (positives and negatives, decorated)."""
    from agents.vlm import train_domain_clip as T

    def run(**options):
        texts = []
        real = T.decorate
        monkeypatch.setattr(T, "decorate", lambda text, d: texts.append(real(text, d)) or texts[-1])
        monkeypatch.setattr(T, "evaluate", lambda *a, **k: {})      # the metrics are bench.domain_clip's job
        meta = T.train(**{"episodes": 2, "epochs": 1, "eval_episodes": 1, "poses_per_class": 2, "lr": 0.0,
                          "out": tmp_path / "c.pt", "log": lambda *_: None, **options})
        return meta, texts

    return run


@pytest.fixture(autouse=True, scope="session")
def sb3_log_folder(tmp_path_factory):
    """Models the tests build with SB3's own default logger log here, not into an ``SB3-<date>`` folder each
    in the machine's temporary folder."""
    import os

    saved = os.environ.get("SB3_LOGDIR")
    os.environ["SB3_LOGDIR"] = str(tmp_path_factory.mktemp("sb3"))
    yield
    if saved is None:
        os.environ.pop("SB3_LOGDIR", None)
    else:
        os.environ["SB3_LOGDIR"] = saved
