# C types for site_reservations.py when hpc.sim.native compiles it (the .py stays plain Python).
import cython

from hpc.sim.site_nodes cimport NodePool as _Pool


cdef class Hold:
    cdef public long long start_s, end_s
    cdef public tuple nodes
    cdef public frozenset node_set
    cdef public tuple need
    cdef public dict spare


@cython.locals(pool=_Pool, fc=list, fg=list, fm=list, cores=cython.longlong,
               gpus=cython.longlong, later=list, k=cython.Py_ssize_t, li=cython.Py_ssize_t,
               n_expected=cython.Py_ssize_t, n_later=cython.Py_ssize_t, t=cython.longlong,
               changed=cython.bint, i=cython.Py_ssize_t, n=cython.Py_ssize_t,
               c=cython.longlong, g=cython.longlong, m=cython.longlong, nodes=tuple,
               c_on=tuple, g_on=tuple, m_on=tuple, mine=bytes, entry=tuple, slot=tuple,
               at=cython.longlong)
cpdef earliest(pool, list expected, list slots, long long now, tuple job, held)

@cython.locals(pool=_Pool, req=cython.longlong, end=cython.longlong, over=list, nodes=tuple,
               c=tuple, g=tuple, m=tuple, fc=list, fg=list, fm=list, spare=dict,
               i=cython.Py_ssize_t, n=cython.Py_ssize_t, on=tuple, c_need=tuple,
               g_need=tuple, m_need=tuple, h=Hold)
cpdef _hold_at(pool, long long t, tuple job, held, tuple free)

@cython.locals(touched=list, i=cython.Py_ssize_t, n=cython.Py_ssize_t, nodes=tuple,
               c_on=tuple, g_on=tuple, m_on=tuple, s=list, h=Hold)
cpdef bint respects(tuple slot, long long end, held, mem_known) except -1
