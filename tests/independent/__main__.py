"""``python -m tests.independent --host H --port P [--rate-limit 15/60] ...``"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import uvicorn

from .server import create_app

_UNITS = {"second": 1, "minute": 60, "hour": 3600}


def parse_rate_limit(text: str) -> tuple[int, float]:
    """``15/60`` (requests per seconds) or ``15/minute``."""
    count, _, per = text.partition("/")
    window = _UNITS[per] if per in _UNITS else float(per or 60)
    limit = int(count)
    if limit < 1 or window <= 0:
        raise argparse.ArgumentTypeError(f"not a rate limit: {text!r}")
    return limit, window


def load_file(path: str) -> dict[str, Any]:
    text = Path(path).read_text(encoding="utf-8")
    if path.endswith(".json"):
        return json.loads(text)
    import yaml

    return yaml.safe_load(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.independent",
        description="An independent implementation of the public booking API.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--rate-limit", type=parse_rate_limit, default=(15, 60.0))
    parser.add_argument(
        "--forwarded-allow-ips",
        default="",
        help="comma-separated proxies (IPs, networks or *) whose X-Forwarded-For is honoured",
    )
    parser.add_argument("--retry-after", choices=("seconds", "http-date"), default="seconds")
    parser.add_argument("--dataset", help="a dataset file (YAML or JSON) instead of the default")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    limit, window = args.rate_limit
    app = create_app(
        limit=limit,
        window=window,
        trusted_proxies=[p for p in args.forwarded_allow_ips.split(",") if p.strip()],
        retry_after=args.retry_after,
        dataset=load_file(args.dataset) if args.dataset else None,
        date_header=True,
    )
    # The app reads X-Forwarded-For itself and sends its own Date (exact, not cached).
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        proxy_headers=False,
        date_header=False,
        log_level=args.log_level,
        access_log=False,
    )


if __name__ == "__main__":
    main()
