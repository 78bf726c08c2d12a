"""Fixtures shared by the tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run fastest on one thread, and a busy machine cannot stall it."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True, scope="module")
def restore_threads():
    """Commands given ``--threads N`` set torch's thread count for the process; each test
    module starts again from the count it found."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)
