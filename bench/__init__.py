"""Benchmarks: each module prints its headline figures as one JSON object on its last line and writes
``bench/results/<name>.json``. Every bench takes ``--quick`` (under a minute). Not tests: this machine is
shared and noisy, so each figure is compared with a baseline measured in the same run."""
