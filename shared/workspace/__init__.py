"""Per-user workspaces: the folder the file tools (and /workspace endpoints) see."""
