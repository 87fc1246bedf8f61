"""The OpenAI-compatible API (``/v1``): Chat Completions, Responses and Models over our agents.

Every call is a normal run (``shared.runs.service``); this package only translates.
"""
