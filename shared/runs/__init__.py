"""Runs: records, schemas, repository, the run-event store and the run lifecycle service."""
