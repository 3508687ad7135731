# C types for site_reservations.py when hpc.sim.native compiles it (the .py stays plain Python).
import cython

from hpc.sim.site_nodes cimport NodePool as _Pool


@cython.locals(pool=_Pool, fc=list, fg=list, fm=list, cores=cython.longlong,
               gpus=cython.longlong, later=list, k=cython.Py_ssize_t, li=cython.Py_ssize_t,
               n_expected=cython.Py_ssize_t, n_later=cython.Py_ssize_t, t=cython.longlong,
               changed=cython.bint, n=cython.Py_ssize_t, c=cython.longlong, g=cython.longlong,
               m=cython.longlong)
cpdef earliest(pool, expected, slots, long long now, tuple job, held)

@cython.locals(pool=_Pool, req=cython.longlong, end=cython.longlong, over=list)
cpdef _hold_at(pool, long long t, tuple job, held, tuple free)

@cython.locals(touched=list, n=cython.Py_ssize_t, c=cython.longlong, g=cython.longlong,
               m=cython.longlong, s=list)
cpdef bint respects(tuple slot, long long end, held, mem_known) except -1
