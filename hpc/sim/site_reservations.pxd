# C types for site_reservations.py when hpc.sim.native compiles it (the .py stays plain Python).
import cython

from hpc.sim.site_nodes cimport NodePool as _Pool


@cython.final
cdef class Hold:
    cdef public long long start_s, end_s
    cdef public tuple nodes
    cdef public tuple need
    cdef public dict spare


@cython.locals(fc="long long[:]", fg="long long[:]", fm="long long[:]", cores=cython.longlong,
               gpus=cython.longlong, later=list, k=cython.Py_ssize_t, li=cython.Py_ssize_t,
               n_expected=cython.Py_ssize_t, n_later=cython.Py_ssize_t, t=cython.longlong,
               changed=cython.bint, i=cython.Py_ssize_t,
               n=cython.Py_ssize_t, c=cython.longlong, g=cython.longlong, nodes=tuple,
               c_on=tuple, g_on=tuple, m_on=tuple, mine=bytes, entry=tuple, slot=tuple,
               at=cython.longlong, saved="long long[:]", job_id=cython.Py_ssize_t,
               partition=cython.Py_ssize_t, want=tuple, part_nodes=tuple)
cpdef earliest(_Pool pool, list expected, list slots, long long now, tuple job, held)

@cython.locals(req=cython.longlong, end=cython.longlong, over=list, nodes=tuple,
               c=tuple, g=tuple, m=tuple, fc="long long[:]", fg="long long[:]",
               fm="long long[:]", spare=dict, i=cython.Py_ssize_t, n=cython.Py_ssize_t,
               h=Hold)
cpdef _hold_at(_Pool pool, long long t, tuple job, held)

@cython.locals(fc="long long[:]", fg="long long[:]", fm="long long[:]", on=tuple,
               c_need=tuple, g_need=tuple, m_need=tuple, i=cython.Py_ssize_t,
               n=cython.Py_ssize_t)
cpdef _reserve(_Pool pool, Hold hold, long long sign)

@cython.locals(touched=list, i=cython.Py_ssize_t, n=cython.Py_ssize_t, nodes=tuple,
               c_on=tuple, g_on=tuple, m_on=tuple, s=list, h=Hold)
cpdef bint respects(tuple slot, long long end, held, bytes mem_known) except -1
