"""Sessions: conversations whose history (pydantic-ai's serialized messages) persists across runs."""
