"""Lab 1 mutants (see __init__.py)."""

LAB = "lab1"
SOLUTION = "lab1_ringbuffer.py"

PUT_MUTEX = ('_wait(self.mutex, timeout, "put: the mutex stayed taken")', "pass")
GET_MUTEX = ('_wait(self.mutex, timeout, "get: the mutex stayed taken")', "pass")
PUT_POST = ("self.mutex.release()                               # C: sem_post(mutex)", "pass")
GET_POST = ('''            INDEX.pack_into(self.mm, 0, (head + 1) % self.capacity, tail)
        finally:
            self.mutex.release()''', '''            INDEX.pack_into(self.mm, 0, (head + 1) % self.capacity, tail)
        finally:
            pass''')

MUTANTS = {
    # no mutex at all: producers (and consumers) read the same index and use the same slot
    "no_mutex": ([PUT_MUTEX, GET_MUTEX, PUT_POST, GET_POST], ["producers_consumers", "mutex_is_used"]),
    # the mutex covers reading tail but not writing it back: a lost update
    "lost_update": ([('''            head, tail = INDEX.unpack_from(self.mm, 0)
            off = self.slot_offset(tail)
            LENGTH.pack_into(self.mm, off, len(data))
            self.mm[off + LENGTH.size: off + LENGTH.size + len(data)] = data
            INDEX.pack_into(self.mm, 0, head, (tail + 1) % self.capacity)
        finally:
            self.mutex.release()                               # C: sem_post(mutex)''',
                      '''            head, tail = INDEX.unpack_from(self.mm, 0)
        finally:
            self.mutex.release()                               # C: sem_post(mutex)
        off = self.slot_offset(tail)
        LENGTH.pack_into(self.mm, off, len(data))
        self.mm[off + LENGTH.size: off + LENGTH.size + len(data)] = data
        INDEX.pack_into(self.mm, 0, INDEX.unpack_from(self.mm, 0)[0], (tail + 1) % self.capacity)''')],
                    ["producers_consumers"]),
    # head and tail kept in the Python object, one copy per process, instead of in the segment
    "per_process_state": ([("        self.owner = owner                                   # True in the creating process",
                            "        self.owner = owner                                   # True in the creating process\n"
                            "        self.head = self.tail = 0"),
                           ('''            head, tail = INDEX.unpack_from(self.mm, 0)
            off = self.slot_offset(tail)
            LENGTH.pack_into(self.mm, off, len(data))
            self.mm[off + LENGTH.size: off + LENGTH.size + len(data)] = data
            INDEX.pack_into(self.mm, 0, head, (tail + 1) % self.capacity)''',
                            '''            off = self.slot_offset(self.tail)
            LENGTH.pack_into(self.mm, off, len(data))
            self.mm[off + LENGTH.size: off + LENGTH.size + len(data)] = data
            self.tail = (self.tail + 1) % self.capacity'''),
                           ('''            head, tail = INDEX.unpack_from(self.mm, 0)
            off = self.slot_offset(head)
            (n,) = LENGTH.unpack_from(self.mm, off)
            if n:
                data = bytes(self.mm[off + LENGTH.size: off + LENGTH.size + n])
                INDEX.pack_into(self.mm, 0, (head + 1) % self.capacity, tail)''',
                            '''            off = self.slot_offset(self.head)
            (n,) = LENGTH.unpack_from(self.mm, off)
            if n:
                data = bytes(self.mm[off + LENGTH.size: off + LENGTH.size + n])
                self.head = (self.head + 1) % self.capacity''')],
                          ["producers_consumers", "attach_and_destroy"]),
    # head saturates at the last slot instead of wrapping: that slot is read again
    "dup_at_wrap": ([("INDEX.pack_into(self.mm, 0, (head + 1) % self.capacity, tail)",
                      "INDEX.pack_into(self.mm, 0, min(head + 1, self.capacity - 1), tail)")],
                    ["wrap_around"]),
    # the consumer that finds the end marker does not pass the wake-up on: the others sleep on
    "end_wakes_one": ([('''            self.full.release()
            return None''', '''            return None''')],
                      ["end_of_stream"]),
}
