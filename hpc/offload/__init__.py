"""OpenMP target-offload workloads, DiOMP included: compile and launch profiles, per-rank GPU
binding, generated batch scripts, shipped example kernels, and reading what a run reports.

`job.OffloadJob` is the spec, `profiles` the compilers per runtime, `launch` the rendered
scripts, `examples` the shipped kernels, `result` the parsed output, `run` the submit-and-wait.
"""
