# 300 MB of output from a failing call: the grader must stay small and say it truncated.
import os
class RingBuffer:
    @classmethod
    def create(cls, *a, **k):
        block = b"spam " * 200_000 + b"\n"
        for _ in range(300):
            os.write(1, block)
        raise RuntimeError("after the flood")
    attach = create
