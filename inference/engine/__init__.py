"""The engine: continuous batching over one model in a thread of its own, and the values a
request carries through it (sequence, sampling, stop strings, drafts, logprobs, statistics).
"""
