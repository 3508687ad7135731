"""Hybrid CPU-GPU decoding when the GPU is small: devices measured, a placement planned, and
the runtime that decodes under that plan.
"""
