"""The API's own errors: a server that must not start as configured."""

from __future__ import annotations


class ApiError(Exception):
    """Base class: an API problem with a message that says what to do."""


class InsecureBindError(ApiError):
    """No token, and a bind or flag that would let anyone on the network ask."""
