"""The reference's work served by functions-framework (figure 9's served reference).

Each request does what the floor script does without the Gemini modules: pydantic-ai and a
`TestModel` run, one Firestore get and set. Spawned as a fresh `functions_framework` process,
it shows what the framework alone adds to a first request, before any of the service's work.
"""

from __future__ import annotations

import os
from typing import Any

import functions_framework


@functions_framework.http
def served_floor(request: Any) -> dict[str, str]:
    from google.cloud import firestore
    from pydantic_ai import Agent
    from pydantic_ai.models.test import TestModel

    result = Agent(TestModel()).run_sync("hello")
    client = firestore.Client(project=os.environ["GOOGLE_CLOUD_PROJECT"])
    ref = client.collection("bench_floor").document("served")
    ref.set({"output": result.output})
    ref.get()
    return {"output": result.output}
