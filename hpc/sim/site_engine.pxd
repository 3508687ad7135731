# C types for site_engine.py when hpc.sim.native compiles it (the .py stays plain Python).
import cython

from hpc.sim.site_limits cimport QosUsage as _Limits
from hpc.sim.site_nodes cimport NodePool as _Pool
from hpc.sim.site_reservations cimport Hold as _Hold, earliest, respects


@cython.final
cdef class _Walk:
    cdef public long long now
    cdef public list blocked, held, asked
    cdef public set asked_nodes
    cdef public Py_ssize_t n_blocked


cdef class SiteEngine:  # not final: a test subclasses it to note starts and ends
    cdef public object jobs, demand, site, policy, rule, priority, rank, kept, last, spare
    cdef public _Pool pool
    cdef public _Limits limits
    cdef public list req, duration, timeout, want, part, qos, account, user, tier, verdicts
    cdef public list start_s, end_s, reasons, placed, finishing, expected, pending
    cdef public bytearray state
    cdef public object reservations_over
    cdef public bint no_backfill, easy
    cdef public long long budget, stale
    cdef public list limited, pair, charges, ask, max_time, qos_wall

    @cython.locals(q=cython.Py_ssize_t)
    cpdef _never(self, Py_ssize_t job)

    @cython.locals(walk=_Walk, last=_Walk, jobs=list)
    cpdef _pass(self, long long now, list new, bint freed)

    @cython.locals(waiting=list, state=bytearray, j=cython.Py_ssize_t, pending=cython.int)
    cpdef _compact(self)

    @cython.locals(walk=_Walk, blocked=list, p=cython.Py_ssize_t)
    cpdef _Walk _fresh_walk(self, long long now)

    cpdef _start(self, Py_ssize_t job, tuple slot, long long now)

    cpdef _finish(self, Py_ssize_t job, long long now)

    @cython.locals(none=cython.bint, easy=cython.bint, pool=_Pool, limits=_Limits,
                   reasons=list, want_of=list, qos_of=list, account_of=list,
                   part_of=list, req_of=list, limited=list, user_keyed=list, charges=list,
                   pair_of=list, ask_of=list,
                   verdicts=list, part_cores="long long[:]", part_gpus="long long[:]", partition_set=list,
                   held=list, asked=list, blocked=list, started=cython.bint,
                   budget=cython.longlong, every=cython.Py_ssize_t, settled=cython.bint,
                   job=cython.Py_ssize_t, q=cython.Py_ssize_t, p=cython.Py_ssize_t,
                   want=tuple, fits=cython.bint, end=cython.longlong, seen=tuple,
                   state=bytearray, waiting=cython.int)
    cpdef bint _walk(self, list jobs, _Walk walk, long long now) except -1

    @cython.locals(held=list, first=cython.bint, found=_Hold)
    cpdef _hold(self, _Walk walk, long long now)

    cpdef _forget_kept(self, _Walk walk, long long now)

    @cython.locals(n=cython.Py_ssize_t, i=cython.Py_ssize_t, now=cython.longlong,
                   freed=cython.bint, submit=list, timers=list, new=list,
                   job=cython.Py_ssize_t, pending=list, rank=list)
    cpdef run(self)
