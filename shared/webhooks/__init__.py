"""Signed webhooks (Standard Webhooks): endpoints, events, deliveries and their sending."""
