"""Lab 3 mutants (see __init__.py)."""

LAB = "lab3"
SOLUTION = "lab3_messages.py"

MUTANTS = {
    # the client receives any type: it can take another client's reply (or a request)
    "client_takes_any": ([("data, _ = receive(self.mq, os.getpid(), max(0.0, deadline - time.monotonic()))",
                           "data, _ = receive(self.mq, 0, max(0.0, deadline - time.monotonic()))")],
                         ["many_clients"]),
    # the server receives in FIFO order (type 0): urgent requests wait their turn
    "fifo_server": ([("data, _ = receive(self.mq, -NORMAL, timeout)", "data, _ = receive(self.mq, 0, timeout)")],
                    ["urgent_first"]),
    # replies to this client's other requests are dropped instead of stashed
    "no_stash": ([('self.stash[reply["id"]] = reply', 'if reply["id"] == request_id:\n'
                                                       '                self.stash[reply["id"]] = reply')],
                 ["urgent_first"]),
}
