"""Remote MCP servers agents use: registrations, per-runner credentials, tools and OAuth."""
