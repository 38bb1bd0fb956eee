"""A workload whose kernel says where it ran: the process, and the interpreter (its ``sys``
module). Pure Python, so that every backend can load it, subinterpreters too."""


def plan(items=6):
    return list(range(items))


def kernel(item):
    import os
    import sys

    return item, os.getpid(), id(sys.modules)


def combine(results):
    return results
