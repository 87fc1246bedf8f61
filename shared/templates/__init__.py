"""Built-in agent templates: definitions shipped as data files in this package."""
