# C types for site_nodes.py when hpc.sim.native compiles it (the .py stays plain Python).
import cython


cdef class NodePool:
    cdef public list names, free_cores, free_gpus, free_mem, mem_known
    cdef public tuple cap
    cdef public list partition_nodes, partition_set, partition_mask, parts_of, part_cores, part_gpus, changes
    cdef public dict _one_node_slots, _fits, _ever
    cdef public object topology
    cdef public list reservations

    @cython.locals(nodes=tuple, r_start=cython.longlong, r_end=cython.longlong, taken=frozenset)
    cpdef tuple eligible(self, Py_ssize_t partition, long long start_s, long long end_s)

    @cython.locals(count=cython.longlong, cores=cython.longlong, gpus=cython.longlong,
                   mem=cython.longlong, per_c=cython.longlong, per_g=cython.longlong,
                   per_m=cython.longlong, k=cython.longlong, fc=list, fg=list, fm=list)
    cpdef fit(self, nodes, tuple want, free=*)

    @cython.locals(count=cython.longlong, key=tuple, seen=tuple)
    cpdef fit_now(self, Py_ssize_t partition, tuple want)

    cpdef tuple _one_node(self, Py_ssize_t node, tuple want)

    @cython.locals(cores=cython.longlong, by_mem=cython.bint, per_core=cython.double,
                   best_total=cython.longlong, best_one=cython.longlong,
                   total=cython.longlong, one=cython.longlong, one_u=cython.longlong,
                   start=cython.Py_ssize_t, last=cython.longlong, i=cython.Py_ssize_t,
                   n=cython.longlong, u=cython.longlong, u_mem=cython.longlong, known=list,
                   mem=cython.longlong, free_mem=cython.longlong)
    cpdef _cpu_fit(self, nodes, tuple want, list fc, list fm)

    @cython.locals(free=cython.longlong)
    cpdef long long _usable(self, Py_ssize_t n, list fc, list fm, double per_core) except? -1

    @cython.locals(runs=list, totals=list, last=cython.longlong, n=cython.longlong,
                   u=cython.longlong, chosen=list, have=cython.longlong, i=cython.Py_ssize_t)
    cpdef _spread_runs(self, nodes, tuple want, list fc, list fm, double per_core)

    @cython.locals(cores=cython.longlong, mem=cython.longlong, picked=list, c_on=list,
                   m_on=list, left_c=cython.longlong, left_m=cython.longlong,
                   c=cython.longlong, m=cython.longlong)
    cpdef tuple _spread(self, nodes, tuple want, list fc, list fm, double per_core)

    @cython.locals(cores=cython.longlong, gpus=cython.longlong, mem=cython.longlong,
                   total=cython.longlong, fit=cython.longlong, last=cython.longlong,
                   n=cython.longlong, usable=cython.bint, known=list)
    cpdef _best_fit_node(self, nodes, tuple want, list fc, list fg, list fm)

    @cython.locals(i=cython.Py_ssize_t, n=cython.Py_ssize_t, c=cython.longlong,
                   g=cython.longlong, m=cython.longlong, p=cython.Py_ssize_t, fc=list,
                   fg=list, fm=list, part_cores=list, part_gpus=list, changes=list,
                   nodes=tuple, cores=tuple, gpus=tuple, mem=tuple)
    cpdef take(self, tuple slot, long long sign=*)

    cpdef give_back(self, tuple slot)
