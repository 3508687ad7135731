"""The OpenAI-compatible HTTP server over one engine: the wire format, request preparation,
events and streams, limits, metrics, and a launcher for a server in a background thread.
"""
