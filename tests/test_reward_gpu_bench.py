"""bench.reward_gpu's worker protocol: a rendering worker that dies is an error, never a hang."""

import multiprocessing as mp
import time

import pytest

from bench.reward_gpu import _receive, parse_config


def test_a_worker_that_exits_without_answering_raises_with_its_exit_code():
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=time.sleep, args=(0,))
    proc.start()
    child.close()          # as parallel_pipeline does: only the worker holds its end
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"rendering worker 3 stopped \(exit code 0\)"):
        _receive(parent, proc, 3)
    assert time.monotonic() - start < 90
    proc.join()


@pytest.mark.parametrize("text", ["14", "0x8", "ax2", "3x", "14x8:tiles"])
def test_a_bad_config_names_itself(text):
    with pytest.raises(SystemExit, match=repr(text)):
        parse_config(text)


def test_configs_parse_with_their_options():
    assert parse_config("14x8") == (14, 8, ())
    assert parse_config("30x1:each:usleep") == (30, 1, ("each", "usleep"))
