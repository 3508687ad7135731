"""Structured output: JSON schemas checked, tool calls read and written, and grammars compiled
by llguidance and enforced on the logits token by token.
"""
