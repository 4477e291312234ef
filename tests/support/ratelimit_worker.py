"""A stand-in worker process for the shared rate-limit test: THREADS threads each make CALLS
chat calls through ChatEndpoint (its limiter, the real openai client) to the loopback server.

    PIPELINE_RATE_LIMIT_REDIS_URL=redis://... python -m tests.support.ratelimit_worker \\
        BASE_URL MODEL RPM THREADS CALLS
"""

from __future__ import annotations

import sys
import threading

from annotator.adapters.llm import ChatEndpoint
from annotator.pipeline.config import EndpointConfig


def main(base_url: str, model: str, rpm: str, threads: str, calls: str) -> None:
    config = EndpointConfig(
        name="shared", base_url=base_url, model=model, requests_per_minute=int(rpm),
        concurrency=int(threads),
    )  # fmt: skip
    endpoint = ChatEndpoint(config=config)
    assert endpoint.limiter.shared is not None, "no shared limits: set the Redis URL"
    messages = [{"role": "user", "content": "hello"}]

    def work() -> None:
        for _ in range(int(calls)):
            endpoint.complete(messages=messages, schema_name="x", schema={"type": "object"})

    workers = [threading.Thread(target=work) for _ in range(int(threads))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


if __name__ == "__main__":
    main(*sys.argv[1:6])
