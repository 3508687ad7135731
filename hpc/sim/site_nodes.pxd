# C types for site_nodes.py when hpc.sim.native compiles it (the .py stays plain Python).
import cython


@cython.final
cdef class NodePool:
    cdef public list names
    cdef public long long[:] free_cores, free_gpus, free_mem, part_cores, part_gpus, changes
    cdef public bytes mem_known
    cdef public tuple cap
    cdef public list partition_nodes, partition_set, partition_mask, parts_of
    cdef public dict _one_node_slots
    cdef public long long[:] _fit_count, _ever, saved
    cdef public list _fit_slot
    cdef public object topology
    cdef public list reservations

    @cython.locals(nodes=tuple, r_start=cython.longlong, r_end=cython.longlong, taken=frozenset)
    cpdef tuple eligible(self, Py_ssize_t partition, long long start_s, long long end_s)

    cpdef fit(self, nodes, tuple want, free=*)

    @cython.locals(count=cython.longlong, cores=cython.longlong, gpus=cython.longlong,
                   mem=cython.longlong, per_c=cython.longlong, per_g=cython.longlong,
                   per_m=cython.longlong, k=cython.longlong, known=bytes)
    cpdef fit_on(self, nodes, tuple want, long long[:] fc, long long[:] fg, long long[:] fm)

    cpdef number_asks(self, Py_ssize_t count)

    @cython.locals(count=cython.longlong)
    cpdef fit_now(self, Py_ssize_t ask, Py_ssize_t partition, tuple want)

    @cython.locals(fits=cython.bint)
    cpdef bint can_ever_fit(self, Py_ssize_t ask, Py_ssize_t partition, tuple want) except -1

    cpdef tuple _one_node(self, Py_ssize_t node, tuple want)

    @cython.locals(cores=cython.longlong, by_mem=cython.bint,
                   best_total=cython.longlong, best_one=cython.longlong,
                   total=cython.longlong, one=cython.longlong, one_u=cython.longlong,
                   start=cython.Py_ssize_t, last=cython.longlong, i=cython.Py_ssize_t,
                   n=cython.longlong, u=cython.longlong, u_mem=cython.longlong, known=bytes,
                   mem=cython.longlong, free_mem=cython.longlong, grand=cython.longlong,
                   best_start=cython.Py_ssize_t, best_end=cython.Py_ssize_t)
    cpdef _cpu_fit(self, nodes, tuple want, long long[:] fc, long long[:] fm)

    @cython.locals(free=cython.longlong)
    cpdef Py_ssize_t _usable(self, Py_ssize_t n, long long[:] fc, long long[:] fm,
                            long long cores, long long mem) except? -1

    @cython.locals(runs=list, totals=list, last=cython.longlong, n=cython.longlong,
                   u=cython.longlong, chosen=list, have=cython.longlong, i=cython.Py_ssize_t,
                   cores=cython.longlong, mem=cython.longlong)
    cpdef _spread_runs(self, nodes, tuple want, long long[:] fc, long long[:] fm)

    @cython.locals(cores=cython.longlong, mem=cython.longlong, picked=list, c_on=list,
                   m_on=list, left_c=cython.longlong, left_m=cython.longlong,
                   c=cython.longlong, m=cython.longlong)
    cpdef tuple _spread(self, nodes, tuple want, long long[:] fc, long long[:] fm)

    @cython.locals(cores=cython.longlong, gpus=cython.longlong, mem=cython.longlong,
                   total=cython.longlong, fit=cython.longlong, last=cython.longlong,
                   n=cython.longlong, usable=cython.bint, known=bytes)
    cpdef _best_fit_node(self, nodes, tuple want, long long[:] fc, long long[:] fg,
                         long long[:] fm)

    @cython.locals(i=cython.Py_ssize_t, n=cython.Py_ssize_t, c=cython.longlong,
                   g=cython.longlong, m=cython.longlong, p=cython.Py_ssize_t,
                   fc="long long[:]", fg="long long[:]", fm="long long[:]",
                   part_cores="long long[:]", part_gpus="long long[:]", changes="long long[:]",
                   nodes=tuple, cores=tuple, gpus=tuple, mem=tuple)
    cpdef take(self, tuple slot, long long sign=*)

    cpdef give_back(self, tuple slot)
