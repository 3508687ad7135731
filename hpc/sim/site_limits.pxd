# C types for site_limits.py when hpc.sim.native compiles it (the .py stays plain Python).
import cython


cdef class QosUsage:
    cdef public list specs, compiled
    cdef public dict per_user, per_account, grp, jobs_per_user
    cdef public list user_keyed

    @cython.locals(compiled=tuple, per_user=tuple, per_account=tuple, grp=tuple,
                   k=cython.Py_ssize_t, limit=cython.longlong, held=list)
    cpdef blocked(self, long long qos, long long user, long long account, tuple want)

    @cython.locals(compiled=tuple, per_user=tuple, per_account=tuple, grp=tuple,
                   amounts=tuple, mine=tuple)
    cpdef charge(self, long long qos, long long user, long long account, tuple want,
                 long long sign)


@cython.locals(held=list)
cpdef _add(dict table, tuple key, tuple amounts)
