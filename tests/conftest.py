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
