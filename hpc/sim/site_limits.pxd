# C types for site_limits.py when hpc.sim.native compiles it (the .py stays plain Python).
import cython


@cython.final
cdef class QosUsage:
    cdef public list specs, compiled
    cdef public long long[:] per_user, jobs_per_user
    cdef public dict per_account, grp
    cdef public list user_keyed

    cpdef number_pairs(self, Py_ssize_t count)

    @cython.locals(compiled=tuple, per_user=tuple, per_account=tuple, grp=tuple,
                   k=cython.Py_ssize_t, limit=cython.longlong, held=list, used="long long[:]")
    cpdef blocked(self, long long qos, Py_ssize_t pair, long long account, tuple want)

    @cython.locals(compiled=tuple, per_user=tuple, per_account=tuple, grp=tuple,
                   amounts=tuple, used="long long[:]", at=cython.Py_ssize_t)
    cpdef charge(self, long long qos, Py_ssize_t pair, long long account, tuple want,
                 long long sign)


@cython.locals(held=list)
cpdef _add(dict table, tuple key, tuple amounts)
