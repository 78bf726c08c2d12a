"""Where weights and saved models live: every weights source, the one loader, the one writer.

- :mod:`~resnetlab.models.hub.format`: the saved-model format (``model.safetensors`` +
  ``model.json``);
- :mod:`~resnetlab.models.hub.weights`: :func:`load_weights` (into an existing model) and
  :func:`save_weights`;
- :mod:`~resnetlab.models.hub.loader`: :func:`load_model` (any source → model + meta);
- :mod:`~resnetlab.models.hub.statedict`, ``fetch``, ``zoo``, ``preset``, ``diagnose``: reading
  foreign files safely, downloads, published weights, the ImageNet preset, mismatch messages.

This package's ``__init__`` imports nothing on purpose: :func:`resnetlab.create_model` (which
loads ``weights=``) sits beside the hub and ``load_model`` builds with it, so the public names
are gathered one floor up, in :mod:`resnetlab.models`.
"""
