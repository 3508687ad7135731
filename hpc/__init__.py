"""The domain core: jobs and machines, workload I/O, the scheduling simulator and its metrics.

`hpc` imports none of schedsight's other packages; everything else builds on it.
"""
