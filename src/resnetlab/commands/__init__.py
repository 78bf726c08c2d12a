"""Sub-commands of the ``resnetlab`` CLI, one module each (see :mod:`resnetlab.cli`)."""
