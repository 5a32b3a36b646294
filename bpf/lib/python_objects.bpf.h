/* Reading plain Python objects from BPF: an instance attribute through its class's shared keys
 * (struct attr_ref, resolved by userspace). */
#ifndef PYAT_PYTHON_OBJECTS_BPF_H
#define PYAT_PYTHON_OBJECTS_BPF_H

#include "abi/cpython.h"
#include "lib/user_memory.bpf.h"

static __always_inline __u64 read_attr(__u64 obj, const struct attr_ref *a, int *fault)
{
    __u64 values = 0;
    if (a->mode == ATTR_VALUES_POINTER) {
        values = read_u64(obj + a->offset, fault);
    } else if (a->mode == ATTR_TAGGED_VALUES) {
        __u64 word = read_u64(obj + a->offset, fault);
        values = (word & 1) ? word + 1 : 0;
    } else if (a->mode == ATTR_INLINE_VALUES) {
        values = obj + a->offset;
    }
    if (!values || *fault)
        return 0;
    return read_u64(values + 8 * (__u64)a->index, fault);
}

#endif
