"""Authentication and authorisation shared by every function."""
