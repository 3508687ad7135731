"""The fused decode step: the transformer blocks of a decode step as one C++ call, its build
(`extension`), its use by the model (`blocks`), and `python -m inference.fused` to build it.
"""
