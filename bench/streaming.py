"""Figure 6 — streaming: from the model producing a chunk to the client receiving it over SSE.

The offline model's stream is instrumented in this process: each text chunk is produced
``PACE`` seconds after the previous one (a model emitting ~100 chunks/s) and its
``time.perf_counter()`` is recorded as it leaves the model. The client is the runs
function's functions-framework app with a non-buffered test client in the same process,
reading ``POST /runs`` (``mode: stream``) and stamping each ``text.delta`` as it arrives.

The floor is a minimal functions-framework app streaming the same chunks, produced the same
way, straight from its response generator; the two are measured alternately.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from bench._stack import (
    Api,
    Figure,
    Stack,
    agent_definition,
    expect,
    make_user,
    median,
    ms,
    percentile,
    verdict,
)

WORDS = 40
STREAMS = 8
PACE = 0.01
TARGET_MS = 5.0

_produced: dict[str, float] = {}

_FLOOR_APP = """
import time
import flask
import functions_framework

PRODUCED = {}


@functions_framework.http
def floor(request):
    words = int(request.args["n"])
    pace = float(request.args["pace"])

    def generate():
        for i in range(words):
            time.sleep(pace)
            word = f"f{i:03d}"
            PRODUCED[word] = time.perf_counter()
            yield f"event: text.delta\\ndata: {{\\"delta\\": \\"{word} \\"}}\\n\\n".encode()

    return flask.Response(generate(), mimetype="text/event-stream")
"""


def _instrument() -> Any:
    """Pace the offline stream and stamp each text chunk as the model yields it."""
    from pydantic_ai.messages import PartDeltaEvent, PartStartEvent, TextPart, TextPartDelta

    from shared.execution import offline

    original = offline._OfflineStream._get_event_iterator  # pyright: ignore[reportPrivateUsage]

    async def paced(self: Any) -> AsyncIterator[Any]:
        async for event in original(self):
            text = None
            if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
                text = event.part.content
            elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
                text = event.delta.content_delta
            if text and text.strip():
                await asyncio.sleep(PACE)
                _produced[text.strip()] = time.perf_counter()
            yield event

    offline._OfflineStream._get_event_iterator = paced  # type: ignore[method-assign]
    return original


def _sse_deltas(response: Any) -> Iterator[tuple[str, float]]:
    """(delta text, arrival time) for each text.delta frame, stamped as its bytes arrive."""
    buffer = b""
    for chunk in response.response:
        arrived = time.perf_counter()
        buffer += chunk
        while b"\n\n" in buffer:
            frame, buffer = buffer.split(b"\n\n", 1)
            lines = frame.decode().splitlines()
            event = next((line[7:] for line in lines if line.startswith("event: ")), None)
            data = "".join(line[6:] for line in lines if line.startswith("data: "))
            if event == "text.delta" and data:
                yield json.loads(data)["delta"], arrived


def run(stack: Stack) -> Figure:
    agents, runs = Api("agents"), Api("runs")
    user = make_user()
    agent_id = expect(
        agents.call("POST", "/agents", token=user.token, json=agent_definition()), 201
    ).get_json()["id"]
    folder = Path(tempfile.mkdtemp(prefix="bench-stream-floor-"))
    (folder / "main.py").write_text(_FLOOR_APP)
    import functions_framework

    floor_app: Any = functions_framework.create_app(target="floor", source=str(folder / "main.py"))
    floor_module: Any = __import__("sys").modules["main"]
    floor_client = floor_app.test_client()
    original = _instrument()
    service_delays: list[float] = []
    floor_delays: list[float] = []
    try:
        for index in range(STREAMS):
            words = " ".join(f"s{index:02d}w{i:03d}" for i in range(WORDS))
            body = {"agent_id": agent_id, "input": f"stream please\nsay {words}", "mode": "stream"}
            response = runs.call("POST", "/runs", token=user.token, json=body, buffered=False)
            expect(response)
            received = 0
            for delta, arrived in _sse_deltas(response):
                produced = _produced.get(delta.strip())
                if produced is not None:
                    service_delays.append(arrived - produced)
                    received += 1
            response.close()
            if received < WORDS:
                raise RuntimeError(f"only {received} of {WORDS} chunks were matched")
            floor_response = floor_client.get(f"/?n={WORDS}&pace={PACE}", buffered=False)
            for delta, arrived in _sse_deltas(floor_response):
                floor_delays.append(arrived - floor_module.PRODUCED[delta.strip()])
            floor_response.close()
    finally:
        from shared.execution import offline

        offline._OfflineStream._get_event_iterator = original  # type: ignore[method-assign]
    p50, p95 = percentile(service_delays, 50), percentile(service_delays, 95)
    floor_p50 = percentile(floor_delays, 50)
    figure = Figure(
        "6. Streaming (model chunk → client, SSE)",
        ["path", "chunks", "p50 ms", "p95 ms", "floor p50 ms", "target"],
    )
    figure.rows.append(
        [
            "POST /runs mode=stream (offline model, in-process client)",
            str(len(service_delays)),
            ms(p50),
            ms(p95),
            ms(floor_p50),
            f"p50 ≤ {TARGET_MS:.0f} ms {verdict(p50 * 1000 <= TARGET_MS)}",
        ]
    )
    figure.rows.append(
        [
            "floor: minimal functions-framework SSE generator",
            str(len(floor_delays)),
            ms(floor_p50),
            ms(percentile(floor_delays, 95)),
            "—",
            "—",
        ]
    )
    figure.notes.append(
        f"- {STREAMS} streams of {WORDS} chunks, one chunk every {PACE * 1000:.0f} ms; service and floor "
        f"alternating. Median over all chunks of the service: {ms(median(service_delays))} ms."
    )
    return figure
