"""``resnetlab serve``: the models over HTTP, with the explorer page (docs/serve.md).

- :mod:`~resnetlab.serve.app`: :func:`~resnetlab.serve.app.create_app`, the FastAPI application
- :mod:`~resnetlab.serve.registry`: which models, under which ids, loaded by the one loader
- :mod:`~resnetlab.serve.uploads`: body size, form and image checks before anything runs
- :mod:`~resnetlab.serve.batching`: micro-batching of concurrent predictions
- :mod:`~resnetlab.serve.explain`, :mod:`~resnetlab.serve.info`, :mod:`~resnetlab.serve.runfiles`:
  Grad-CAM / features / block anatomy, the model description, curves / figures / samples
- :mod:`~resnetlab.serve.metrics`, :mod:`~resnetlab.serve.auth`, :mod:`~resnetlab.serve.errors`
- :mod:`~resnetlab.serve.server`: uvicorn, bound sockets, a clean stop on Ctrl-C / SIGTERM

Nothing is imported here, so that ``import resnetlab.serve.config`` stays cheap.
"""
