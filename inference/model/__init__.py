"""The Llama-family decoder the engine runs: its blocks, the linear layers laid out for the CPU
kernels, the KV cache they write into, and the host-memory habits around them.
"""
