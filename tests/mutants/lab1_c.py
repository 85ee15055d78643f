"""Lab 1 mutants, C track (see __init__.py): broken versions of solutions/c/lab1_ringbuffer.c.

Graded by tests/test_ctrack.py with ``--track c``: each must lose every point of the tests
named for its bug, with the Python track's tests run unchanged against the C library.
"""

LAB = "lab1"
SOLUTION = "c/lab1_ringbuffer.c"

NO_MUTEX_WAIT = ('''    if (wait_until(rb->mutex, &deadline) == -1) {
        int saved = errno;
        sem_post(unit);
        errno = saved;
        return -1;
    }
    return 0;''', '''    (void)rb;
    return 0;''')

MUTANTS = {
    # no mutex at all: producers (and consumers) read the same index and use the same slot
    "no_mutex": ([NO_MUTEX_WAIT, ("sem_post(rb->mutex);", "/* no mutex */")],
                 ["producers_consumers", "mutex_is_used"]),
    # head and tail kept in this process's struct rb instead of the segment: each process its own copy
    "per_process_state": ([("    uint32_t capacity, item_size; /* copies of the header's constant fields */",
                            "    uint32_t capacity, item_size; /* copies of the header's constant fields */\n"
                            "    uint32_t head, tail;          /* BUG: this process's own indices */"),
                           ("uint32_t tail = h->tail;", "uint32_t tail = rb->tail;"),
                           ("h->tail = (tail + 1) % rb->capacity;", "rb->tail = (tail + 1) % rb->capacity;"),
                           ("    struct rb_header *h = hdr(rb);\n    uint32_t head = h->head;",
                            "    uint32_t head = rb->head;"),
                           ("h->head = (head + 1) % rb->capacity;", "rb->head = (head + 1) % rb->capacity;")],
                          ["attach_and_destroy", "producers_consumers"]),
    # head saturates at the last slot instead of wrapping to 0: that slot is read again, slot 0's lost
    "dup_at_wrap": ([("h->head = (head + 1) % rb->capacity;",
                      "h->head = head + 1 < rb->capacity ? head + 1 : rb->capacity - 1;")],
                    ["wrap_around"]),
    # a mutex timeout keeps the empty/full unit already taken: a slot (or a record) is lost for good
    "no_give_back": ([('''        int saved = errno;
        sem_post(unit);
        errno = saved;
        return -1;''', '''        return -1;''')],
                     ["mutex_is_used"]),
    # the consumer that finds the end marker does not pass the wake-up on: the others sleep on
    "end_wakes_one": ([('''        sem_post(rb->full);
        return 0;
    }
    sem_post(rb->empty);''', '''        return 0;
    }
    sem_post(rb->empty);''')],
                      ["end_of_stream"]),
}
