"""Parts of ``benchmarks/gpu_check.py``: the one GPU benchmark a session with a device runs.

Each module measures one section on top of :mod:`resnetlab.bench` (timing, memory, machine)
and :mod:`resnetlab.train` (the trainer's step, its on-device loader), so the GPU figures come
from the code ``resnetlab train`` runs. :mod:`.budget` keeps the whole run inside its time.
"""
