"""Workloads: SWF traces (read, write, clean) and the synthetic Lublin–Feitelson generator."""
