"""Our agents over A2A (protocol 0.3 JSON-RPC): an agent card per runnable agent and a JSON-RPC
endpoint where a task is a run and a context is a session (both in Firestore, so any instance
answers). See docs/a2a.md and docs/api-decisions/a2a.md."""
