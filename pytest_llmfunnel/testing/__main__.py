"""``python -m pytest_llmfunnel.testing``: run the loopback judge server until interrupted.

The first stdout line is the base URL; ``GET /stats`` returns the server's
counters as JSON (see :mod:`pytest_llmfunnel.testing.server`).
"""

from __future__ import annotations

import argparse
import sys
import time

from pytest_llmfunnel.testing.actions import LLAMA_CPP_PYTHON_SCHEMA_ERROR, hashed_verdicts
from pytest_llmfunnel.testing.server import JudgeServer


def main(argv: list[str] | None = None) -> int:
    """Run the server until interrupted; print the base URL as the first stdout line."""
    parser = argparse.ArgumentParser(prog="python -m pytest_llmfunnel.testing")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reject-json-schema", action="store_true")
    parser.add_argument("--refuse-json-schema-500", action="store_true",
                        help="answer json_schema requests as llama-cpp-python's server does")
    parser.add_argument("--hashed-scores", action="store_true", help="score by prompt hash, 1-5")
    args = parser.parse_args(argv)
    server = JudgeServer(
        args.latency,
        fault_rate=args.fault_rate,
        seed=args.seed,
        reject_json_schema=args.reject_json_schema,
        refuse_formats=(
            {"json_schema": LLAMA_CPP_PYTHON_SCHEMA_ERROR} if args.refuse_json_schema_500 else None
        ),
        port=args.port,
    )
    if args.hashed_scores:
        server.default = hashed_verdicts()
    server.start()
    print(server.base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
