"""The agent marketplace: listings, search, installs, bundles, ratings and stats."""
