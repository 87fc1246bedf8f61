"""Agent execution: models (Vertex or offline), the agent factory and the execution core.

Used by every run mode (sync, stream, async worker, workflows); see ``executor.execute``.
"""
