"""You are the scheduler: a game on real processes, after The Deadlock Empire.

Why: a race is easiest to believe when *you* cause it. Each level starts real processes
(``procs.start``) that run a small program on a real POSIX shared memory segment and real
POSIX semaphores; before each step a process waits on its own semaphore (``go``), and only
the player's choice posts it. The player wins when the *real* final state meets the level's
goal (the counter read from the segment, semaphore values read with ``sem_getvalue``, a
deadlock confirmed by real timed waits that time out).

The levels (:data:`LEVELS`):

* ``counter-to-1``  - two processes, one ``counter++`` each (load, add, store): end at 1.
* ``counter-to-2``  - two processes, three ``counter++`` each: end at 2 (the minimum: the
  last store comes from a load that saw at least the other's first store... find why).
* ``starve``        - two dining philosophers take two forks (semaphores) in opposite
  order: make both starve (a deadlock, confirmed by timeouts).
* ``lost-update-3`` - three processes, one ``counter++`` each: lose two updates (end at 1).

Stepping. A step is one line of the process's program, done by the process itself: ``load``
copies the shared word into the process's register (its private variable, a CPU register in
C), ``add`` changes the register, ``store`` writes it back; ``wait`` is a real
``sem_trywait``: if the semaphore is 0 the process does not get past the line (it is
*blocked*; in a free run it would sleep in ``sem_wait`` there) and stays on it, and the
attempt is still a step of the schedule; ``post`` is a real ``sem_post``.

Undo. The processes are real, so a step cannot be taken back inside them. :meth:`Game.undo`
therefore ends the processes, removes their objects, and replays the schedule minus its
last step on fresh processes and fresh objects (new pids; the same state, because every step
is deterministic given the schedule). :func:`play` of the prefix gives the same state: the
tests check it.

Headless, a schedule is a string: ``play("counter-to-1", "A A B B A B")`` - one name per
step, optionally ``NAME:op`` to say which op you expect (``A:load``). :func:`random_schedule`
draws a seeded schedule (same seed, same schedule) to compare with a friend;
:func:`simulate` is the answer on paper (no processes).

Every wait has a timeout: the notebook waits at most ``timeout`` s for a step, a process
waits at most ``step_timeout`` s for the player, a deadlock check waits ``confirm_timeout``
s; processes, segment and semaphores are removed by :meth:`Game.close` (and by the
registry on a crash).

Defined in :mod:`ipclab.experiments.scheduler_game`; played in notebook 01.
"""

import contextlib
import ctypes
import random
import re
from dataclasses import dataclass, field

import posix_ipc

from ipclab.core import objects, procs
from ipclab.core.errors import BadArgument, WaitTimeout
from ipclab.mechanisms.shm import Segment

__all__ = ["LEVELS", "Level", "Game", "Outcome", "play", "random_schedule", "simulate",
           "parse_schedule", "game_worker"]

# --------------------------------------------------------------------------- programs and levels
READY, BLOCKED, FINISHED, TIMED_OUT = 0, 1, 2, 3
STATUS_NAMES = {READY: "ready", BLOCKED: "blocked", FINISHED: "finished", TIMED_OUT: "deadlocked"}
CMD_STEP, CMD_CONFIRM = 1, 2
_SLOT = 4                     # per process: pc, register, status, command
_MAX_PROCS, _MAX_VARS = 8, 8
_WORDS = _MAX_VARS + _SLOT * _MAX_PROCS


@dataclass(frozen=True)
class Instr:
    """One step of a program: *op* on *arg* (a variable, a semaphore or an amount), shown as *text*."""
    op: str          # load | add | store | eat | wait | post
    arg: object
    text: str        # the line of code the player reads
    line: int        # its index in the program's listing


@dataclass(frozen=True)
class Program:
    header: tuple    # lines shown before the steps (a loop header), never stepped
    body: tuple      # Instr for one pass
    passes: int = 1  # the body runs this many times (a loop)

    @property
    def steps(self):
        return [ins for _ in range(self.passes) for ins in self.body]

    def listing(self):
        return list(self.header) + [("    " if self.header else "") + ins.text for ins in self.body]


def counter_program(increments):
    head = (f"for i in range({increments}):",) if increments > 1 else ()
    k = len(head)
    return Program(head, (Instr("load", "counter", "reg = counter        # load  (C: mov eax, [counter])", k),
                          Instr("add", 1, "reg = reg + 1        # add   (C: add eax, 1)", k + 1),
                          Instr("store", "counter", "counter = reg        # store (C: mov [counter], eax)", k + 2)),
                   increments)


def philosopher_program(me, first, second):
    return Program((), (Instr("wait", first, f"wait({first})          # sem_wait: take a fork", 0),
                        Instr("wait", second, f"wait({second})          # sem_wait: take the other", 1),
                        Instr("eat", f"meals_{me}", f"meals_{me} += 1         # eat", 2),
                        Instr("post", second, f"post({second})          # sem_post: put it back", 3),
                        Instr("post", first, f"post({first})          # sem_post", 4)))


@dataclass(frozen=True)
class Level:
    key: str
    title: str
    goal: str
    programs: dict             # process name -> Program
    variables: tuple           # shared words, in segment order
    semaphores: dict = field(default_factory=dict)   # name -> initial value

    @property
    def names(self):
        return list(self.programs)


def _counter_level(key, title, goal, n_procs, increments):
    names = [chr(ord("A") + i) for i in range(n_procs)]
    return Level(key, title, goal, {n: counter_program(increments) for n in names}, ("counter",))


LEVELS = {lv.key: lv for lv in (
    _counter_level("counter-to-1", "Two processes, one counter++ each",
                   "make the counter end at 1 (one of the two increments lost)", 2, 1),
    _counter_level("counter-to-2", "Two processes, three counter++ each",
                   "make the counter end at 2 (four of the six increments lost)", 2, 3),
    Level("starve", "Two dining philosophers, forks taken in opposite order",
          "make both philosophers starve: each holds one fork and waits forever for the other",
          {"A": philosopher_program("A", "fork1", "fork2"), "B": philosopher_program("B", "fork2", "fork1")},
          ("meals_A", "meals_B"), {"fork1": 1, "fork2": 1}),
    _counter_level("lost-update-3", "Three processes, one counter++ each",
                   "get lost updates with three processes: the counter ends at 1", 3, 1),
)}


def level(key):
    if isinstance(key, Level):
        return key
    if key not in LEVELS:
        raise BadArgument(f"no level {key!r}; the levels are {', '.join(LEVELS)}")
    return LEVELS[key]


def judge(lv, shared, status, deadlock_confirmed):
    """(won, why) for a finished game, from the real final state."""
    if lv.key == "starve":
        if deadlock_confirmed:
            return True, "deadlock: every philosopher holds one fork and timed out waiting for the other"
        return False, "no deadlock: " + ", ".join(f"{n[-1]} ate {v}" for n, v in shared.items())
    target = {"counter-to-1": 1, "counter-to-2": 2, "lost-update-3": 1}[lv.key]
    got = shared["counter"]
    total = sum(p.passes for p in lv.programs.values())
    if got == target:
        return True, f"counter = {got}: {total - got} of {total} increments lost"
    return False, f"counter = {got}, the goal is {target} ({total - got} of {total} increments lost)"


# --------------------------------------------------------------------------- schedules
_TOKEN = re.compile(r"^([A-Z])(?::([a-z]+))?$")


def parse_schedule(text, names=None):
    """``"A A B:load"`` -> ``[("A", None), ("A", None), ("B", "load")]``; names checked if given."""
    steps = []
    for token in str(text).replace(",", " ").split():
        m = _TOKEN.match(token)
        if not m or (names and m[1] not in names):
            who = f"one of {', '.join(names)}" if names else "a capital letter"
            raise BadArgument(f"schedule step {token!r} is not NAME or NAME:op (NAME {who}), e.g. 'A' or 'A:load'")
        steps.append((m[1], m[2]))
    return steps


@dataclass
class Paper:
    """The game on paper: the state :func:`simulate` computes (the answer key, no processes)."""
    pc: dict
    reg: dict
    shared: dict
    sems: dict
    status: dict
    blocked_steps: int = 0

    def can_progress(self, lv, who):
        steps = lv.programs[who].steps
        if self.pc[who] >= len(steps):
            return False
        ins = steps[self.pc[who]]
        return not (ins.op == "wait" and self.sems[ins.arg] == 0)

    def over(self, lv):
        return not any(self.can_progress(lv, n) for n in lv.names)


def _paper_step(lv, st, who):
    steps = lv.programs[who].steps
    if st.pc[who] >= len(steps):
        raise BadArgument(f"process {who} has finished all its steps")
    ins = steps[st.pc[who]]
    blocked = False
    if ins.op == "load":
        st.reg[who] = st.shared[ins.arg]
    elif ins.op == "add":
        st.reg[who] += ins.arg
    elif ins.op == "store":
        st.shared[ins.arg] = st.reg[who]
    elif ins.op == "eat":
        st.shared[ins.arg] += 1
    elif ins.op == "wait":
        blocked = st.sems[ins.arg] == 0
        if not blocked:
            st.sems[ins.arg] -= 1
    elif ins.op == "post":
        st.sems[ins.arg] += 1
    if not blocked:
        st.pc[who] += 1
    st.blocked_steps += blocked
    st.status[who] = BLOCKED if blocked else FINISHED if st.pc[who] == len(steps) else READY


def simulate(level_key, schedule):
    """The state after *schedule*, computed by hand (no processes): a :class:`Paper`."""
    lv = level(level_key)
    st = Paper({n: 0 for n in lv.names}, {n: 0 for n in lv.names}, {v: 0 for v in lv.variables},
               dict(lv.semaphores), {n: READY for n in lv.names})
    for who, op in parse_schedule(schedule, lv.names):
        _paper_step(lv, st, who)
    return st


def random_schedule(level_key, seed):
    """A seeded random schedule played to the end: same seed, same schedule (a string).

    At each step one process that can make progress (not finished, not about to block) is
    drawn with ``random.Random(seed)``; the schedule ends when none can.
    """
    lv = level(level_key)
    rng = random.Random(seed)
    st = simulate(lv, "")
    out = []
    while not st.over(lv):
        who = rng.choice([n for n in lv.names if st.can_progress(lv, n)])
        _paper_step(lv, st, who)
        out.append(who)
    return " ".join(out)


# --------------------------------------------------------------------------- the worker
def _acquire(sem, timeout, what):
    try:
        sem.acquire(timeout)  # C: sem_timedwait
    except posix_ipc.BusyError:
        raise WaitTimeout(f"waited {timeout:g} s for {what}") from None


def game_worker(seg_name, index, program, var_index, sem_names, go_name, done_name,
                step_timeout, confirm_timeout):
    """A process of the game: one line of *program* per go signal from the scheduler (you).

    *program* is a list of ``(op, arg)``; ``reg`` is this process's private register. After
    each step it reports ``pc``, ``reg`` and its status in its slot of the segment.
    """
    seg = Segment.attach(seg_name)
    words = (ctypes.c_int64 * _WORDS).from_buffer(seg.buf)   # C: int64_t *words = mmap(...)
    sems = {name: posix_ipc.Semaphore(real) for name, real in sem_names.items()}
    go, done = posix_ipc.Semaphore(go_name), posix_ipc.Semaphore(done_name)
    me = _MAX_VARS + _SLOT * index
    pc, reg = 0, 0
    try:
        while pc < len(program):
            _acquire(go, step_timeout, "the scheduler (you) to choose this process")
            op, arg = program[pc]
            blocked = False
            if words[me + 3] == CMD_CONFIRM:             # is it a deadlock? wait for real, with a timeout
                try:
                    sems[arg].acquire(confirm_timeout)   # C: sem_timedwait(sem, &deadline)
                except posix_ipc.BusyError:
                    words[me + 2] = TIMED_OUT
                    done.release()
                    continue
            elif op == "load":
                reg = words[var_index[arg]]              # C: reg = *counter;
            elif op == "add":
                reg = reg + arg                          # C: reg = reg + 1;
            elif op == "store":
                words[var_index[arg]] = reg              # C: *counter = reg;
            elif op == "eat":
                words[var_index[arg]] += 1
            elif op == "wait":
                try:
                    sems[arg].acquire(0)                 # C: sem_trywait(sem): EAGAIN if it is 0
                except posix_ipc.BusyError:
                    blocked = True                       # stay on this line
            elif op == "post":
                sems[arg].release()                      # C: sem_post(sem)
            if not blocked:
                pc += 1
            words[me], words[me + 1] = pc, reg
            words[me + 2] = BLOCKED if blocked else FINISHED if pc == len(program) else READY
            done.release()                               # tell the scheduler the step is done
    finally:
        del words
        seg.close()
        for sem in (*sems.values(), go, done):
            sem.close()
    return reg


# --------------------------------------------------------------------------- the game
@dataclass
class Move:
    """One step of the history: who, which line, whether it blocked, the state right after."""
    n: int
    who: str
    op: str
    text: str
    blocked: bool
    register: int
    shared: dict

    def __str__(self):
        what = "BLOCKED (sem_trywait: EAGAIN)" if self.blocked else f"{self.who}.reg = {self.register}"
        mem = "  ".join(f"{k} = {v}" for k, v in self.shared.items())
        return f"{self.n:3d}  {self.who}  {self.text.split('#')[0].strip():<16} {what:<30} {mem}"


@dataclass
class Outcome:
    """How a game ended: ``over`` (nobody can move), ``won``, ``why``, the real final state."""
    level: str
    schedule: str
    over: bool
    won: bool
    why: str
    shared: dict
    semaphores: dict
    status: dict
    board: str = field(default="", repr=False)

    @property
    def verdict(self):
        if not self.over:
            return "not over: some process can still take a step"
        return ("WON: " if self.won else "LOST: ") + self.why


class Game:
    """One level on real processes: :meth:`step`, :meth:`run`, :meth:`undo`, :meth:`outcome`.

    ``with Game("counter-to-1") as g: g.run("A A B B A B"); print(g.outcome().verdict)``
    """

    def __init__(self, level_key, start_method="fork", timeout=30.0, step_timeout=600.0,
                 confirm_timeout=0.2):
        self.level = level(level_key)
        self.names = self.level.names
        self.start_method = start_method
        self.timeout = timeout                  # the notebook waits this long for one step
        self.step_timeout = step_timeout        # a process waits this long for the player
        self.confirm_timeout = confirm_timeout  # a deadlock check waits this long
        self.history = []
        self._stack = None
        self._outcome = None

    # -- life cycle --------------------------------------------------------------
    def open(self):
        lv = self.level
        stack = contextlib.ExitStack()
        try:
            self.seg = stack.enter_context(Segment.create(8 * _WORDS, tag="game"))
            self.done = stack.enter_context(objects.posix_sem(0, tag="done"))
            self.go = {n: stack.enter_context(objects.posix_sem(0, tag=f"go{n}")) for n in self.names}
            self.sems = {s: stack.enter_context(objects.posix_sem(v, tag=s)) for s, v in lv.semaphores.items()}
            self.words = (ctypes.c_int64 * _WORDS).from_buffer(self.seg.buf)
            stack.callback(self._drop_view)
            var_index = {v: i for i, v in enumerate(lv.variables)}
            sem_names = {s: sem.name for s, sem in self.sems.items()}
            args = [(self.seg.name, i, [(ins.op, ins.arg) for ins in lv.programs[n].steps], var_index,
                     sem_names, self.go[n].name, self.done.name, self.step_timeout, self.confirm_timeout)
                    for i, n in enumerate(self.names)]
            longest = max(len(p.steps) for p in lv.programs.values())
            self.group = procs.start(game_worker, args, names=list(self.names), start_method=self.start_method,
                                     timeout=self.step_timeout * (longest * len(self.names) + 2))
            stack.callback(self.group.kill)
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        self._outcome = None
        return self

    def _drop_view(self):
        del self.words

    def close(self):
        """End the processes (killed if unfinished or blocked) and remove segment and semaphores."""
        if self._stack is not None:
            stack, self._stack = self._stack, None
            stack.close()

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()
        return False

    @property
    def pids(self):
        return dict(zip(self.names, self.group.pids))

    # -- what you see (all read from the real segment and semaphores) -------------
    def _slot(self, who):
        return _MAX_VARS + _SLOT * self.names.index(who)

    def pc(self, who):
        return self.words[self._slot(who)]

    def register(self, who):
        return self.words[self._slot(who) + 1]

    def status(self, who):
        return self.words[self._slot(who) + 2]

    @property
    def shared(self):
        """The shared variables, read from the segment now."""
        return {v: self.words[i] for i, v in enumerate(self.level.variables)}

    @property
    def semaphores(self):
        """Each semaphore's real value (``sem_getvalue``)."""
        return {s: sem.value for s, sem in self.sems.items()}

    def next_instr(self, who):
        steps = self.level.programs[who].steps
        k = self.pc(who)
        return steps[k] if k < len(steps) else None

    def can_progress(self, who):
        ins = self.next_instr(who)
        return ins is not None and not (ins.op == "wait" and self.sems[ins.arg].value == 0)

    @property
    def over(self):
        """Nobody can make progress: every process finished, or blocked on a semaphore at 0."""
        return not any(self.can_progress(n) for n in self.names)

    def listing(self, who):
        """The process's code as (line text, is current line) pairs, plus its iteration."""
        prog = self.level.programs[who]
        ins = self.next_instr(who)
        cur = ins.line if ins else None
        return [(text, i == cur) for i, text in enumerate(prog.listing())]

    def iteration(self, who):
        prog = self.level.programs[who]
        return min(self.pc(who) // len(prog.body), prog.passes - 1)

    def board(self, hide_values=False):
        """The whole game as text: code with the current line marked, registers, memory, timeline."""
        q = (lambda v: "?") if hide_values else (lambda v: v)
        out = [f"level {self.level.key}: {self.level.goal}"]
        for n in self.names:
            st = STATUS_NAMES[self.status(n)]
            regs = f"reg = {q(self.register(n))}"
            if self.level.programs[n].passes > 1:
                regs += f", i = {self.iteration(n)}"
            out.append(f"process {n} [{st}]  {regs}")
            out += [f"  {'>>' if cur else '  '} {text}" for text, cur in self.listing(n)]
        mem = ", ".join(f"{k} = {q(v)}" for k, v in self.shared.items())
        if self.sems:
            mem += "; " + ", ".join(f"{k} = {q(v)}" for k, v in self.semaphores.items())
        out.append(f"shared memory: {mem}")
        out.append("timeline:")
        out += ["  " + row for row in timeline_rows(self.names, self.history)] or ["  (no step yet)"]
        return "\n".join(out)

    # -- what you do ---------------------------------------------------------------
    def step(self, who, op=None):
        """Process *who* runs its current line; returns a :class:`Move` (``blocked`` if a wait failed)."""
        if self._stack is None:
            raise BadArgument("the game is not open: use `with Game(...) as g:`")
        if who not in self.names:
            raise BadArgument(f"no process {who!r}; the processes are {', '.join(self.names)}")
        ins = self.next_instr(who)
        if ins is None:
            raise BadArgument(f"process {who} has finished all its steps")
        if op is not None and op != ins.op:
            raise BadArgument(f"process {who}'s next step is {ins.op}, not {op}: each process runs its "
                              "lines in order; only the interleaving is yours")
        child = self.group.children[self.names.index(who)]
        if child.process.exitcode is not None:
            raise WaitTimeout(f"process {who} is gone (a process waits {self.step_timeout:g} s for you, "
                              "then gives up): replay the schedule to start again on fresh processes")
        slot = self._slot(who)
        self.words[slot + 3] = CMD_STEP
        self.go[who].release()                                    # C: sem_post(go[who])
        _acquire(self.done, self.timeout, f"process {who} to run {ins.text.split('#')[0].strip()}")
        blocked = self.status(who) == BLOCKED
        move = Move(len(self.history) + 1, who, ins.op, ins.text, blocked, self.register(who), self.shared)
        self.history.append(move)
        self._outcome = None
        return move

    def run(self, schedule):
        """Take every step of *schedule* (see :func:`parse_schedule`); return the moves."""
        return [self.step(who, op) for who, op in parse_schedule(schedule, self.names)]

    def schedule_so_far(self):
        return " ".join(m.who for m in self.history)

    def replay(self, schedule):
        """Start again on fresh processes and objects and play *schedule* (how undo works)."""
        self.close()
        self.history = []
        self.open()
        self.run(schedule)
        return self

    def undo(self, steps=1):
        """Take back the last *steps* steps: replay the schedule's prefix on fresh processes."""
        if steps > len(self.history):
            raise BadArgument(f"only {len(self.history)} steps to undo")
        prefix = " ".join(m.who for m in self.history[:len(self.history) - steps])
        return self.replay(prefix)

    def _confirm_deadlock(self):
        """Every blocked process waits for real (sem_timedwait, confirm_timeout); True if all time out."""
        blocked = [n for n in self.names if self.next_instr(n) is not None]
        if not blocked:
            return False
        for n in blocked:
            self.words[self._slot(n) + 3] = CMD_CONFIRM
            self.go[n].release()
        for n in blocked:
            _acquire(self.done, self.timeout + self.confirm_timeout, "the deadlock check")
        return all(self.status(n) == TIMED_OUT for n in blocked)

    def outcome(self):
        """The :class:`Outcome` now: judged on the real state once nobody can move."""
        if self._outcome is not None:
            return self._outcome
        over = self.over
        won, why = False, ""
        if over:
            won, why = judge(self.level, self.shared, {}, self._confirm_deadlock())
        board, shared, sems = self.board(), self.shared, self.semaphores
        status = {n: STATUS_NAMES[self.status(n)] for n in self.names}
        out = Outcome(self.level.key, self.schedule_so_far(), over, won, why, shared, sems, status, board)
        if over:
            self._outcome = out
        return out


def timeline_rows(names, history):
    """One row per process, one column per step: what the process did (x: blocked)."""
    abbrev = {"load": "L", "add": "+", "store": "S", "eat": "E", "wait": "W", "post": "P"}
    rows = []
    for n in names:
        cells = [(abbrev[m.op] if not m.blocked else "x") if m.who == n else "." for m in history]
        rows.append(f"{n} | " + " ".join(cells))
    return rows if history else []


def play(level_key, schedule, start_method="fork", timeout=30.0, confirm_timeout=0.2):
    """Play *schedule* on real processes and return the :class:`Outcome` (processes removed after)."""
    with Game(level_key, start_method=start_method, timeout=timeout, step_timeout=max(timeout, 60.0),
              confirm_timeout=confirm_timeout) as g:
        g.run(schedule)
        return g.outcome()
