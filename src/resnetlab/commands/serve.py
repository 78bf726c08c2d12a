"""``resnetlab serve``: the models over HTTP (JSON API, metrics, the explorer page)."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from pathlib import Path

from resnetlab.commands import options

SOURCE_NOTE = ("any number; untrained:NAME serves a registered architecture with random "
               "weights; default: every finished run under --runs, else the newest in ./runs")


def register(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``resnetlab serve``."""
    parser.description = (
        "Serve models over HTTP: a JSON API for predictions, Grad-CAM, feature maps and block "
        "anatomy (OpenAPI docs at /docs), Prometheus metrics at /metrics and the explorer page "
        "at /. Concurrent predictions are micro-batched. Binds 127.0.0.1 unless told "
        "otherwise; Ctrl-C or SIGTERM stops it cleanly. See docs/serve.md.")
    parser.add_argument("sources", metavar="SOURCE", nargs="*",
                        help=options.with_note(options.WEIGHTS_HELP, SOURCE_NOTE))
    parser.add_argument("--runs", type=Path, metavar="DIR",
                        help="serve every finished run (a folder with model.json) under DIR "
                        "(default without SOURCE: the newest run in ./runs)")
    options.add_model(parser, options.RAW_WEIGHTS_MODEL_NOTE, weights=False)
    net = parser.add_argument_group("network and security")
    net.add_argument("--host", default="127.0.0.1",
                     help="address to listen on (default: 127.0.0.1, this machine only)")
    net.add_argument("--port", type=options.whole_number, default=8000, metavar="N",
                     help="port to listen on, 0 for any free one (default: 8000)")
    net.add_argument("--token", metavar="T",
                     help="require 'Authorization: Bearer T' on every /v1 route (default: "
                     "$RESNETLAB_TOKEN if set, else none)")
    net.add_argument("--cors", action="append", default=[], metavar="ORIGIN",
                     help="allow browser calls from ORIGIN, e.g. https://example.org "
                     "(repeatable; default: none)")
    limits = parser.add_argument_group("batching and limits")
    limits.add_argument("--max-batch", type=options.positive_int, default=16, metavar="N",
                        help="most predict requests run as one batch; 1 turns batching off "
                        "(default: 16)")
    limits.add_argument("--batch-wait-ms", type=options.finite_float, default=5.0, metavar="M",
                        help="how long a batch waits for more requests (default: 5)")
    limits.add_argument("--max-queue", type=options.positive_int, default=256, metavar="N",
                        help="predict requests that may wait; beyond, 503 (default: 256)")
    limits.add_argument("--max-upload-mb", type=options.finite_float, default=10.0, metavar="S",
                        help="largest request body in MB; larger: 413 (default: 10)")
    options.add_runtime(parser, threads="default: one per core")
    options.add(parser, "--engine", "predictions only, explanations stay eager; default: "
                "eager", default="eager")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Idle OpenMP threads of torch spin for a while after each batch; in a server they would
    # take the CPU from the event loop and the image decoding (docs/benchmarks.md, "Serving").
    # This takes effect because the CLI has not imported torch yet.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from resnetlab.serve.app import create_app
    from resnetlab.serve.config import TOKEN_ENV, ServeConfig
    from resnetlab.serve.registry import load_registry
    from resnetlab.serve.server import host_warning, listen
    from resnetlab.serve.server import run as run_server

    config = ServeConfig(
        sources=tuple(args.sources), runs=args.runs, model=args.model, engine=args.engine,
        device=args.device, threads=args.threads, max_batch=args.max_batch,
        batch_wait_ms=args.batch_wait_ms, max_queue=args.max_queue,
        max_upload_mb=args.max_upload_mb, token=args.token or os.environ.get(TOKEN_ENV) or None,
        cors=tuple(args.cors))
    sock = listen(args.host, args.port)  # first: a busy port fails before any model loads
    try:
        registry = load_registry(config)
        try:
            app = create_app(config, registry)
            host, port = sock.getsockname()[:2]
            warning = host_warning(args.host, bool(config.token))
            if warning:
                print(warning, file=sys.stderr)
            url_host = f"[{host}]" if ":" in host else host
            print(f"serving {', '.join(registry.ids)} at http://{url_host}:{port} (API docs: "
                  f"/docs{', token required' if config.token else ''}); Ctrl-C stops",
                  flush=True)
            # Everything loaded so far lives as long as the server: moved out of the garbage
            # collector's sight, it costs no GC pause while serving, and the interpreter's
            # exit, which otherwise spends ~1 s collecting torch's objects, is ~4x faster.
            gc.freeze()
            run_server(app, sock, graceful_seconds=config.graceful_seconds)
        finally:
            registry.close()
    finally:
        sock.close()
    return 0
