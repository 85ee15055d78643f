"""ipclab.experiments.scheduler_game: each level won and lost on real processes, undo = replay, seeds."""

import pytest

from ipclab.core.errors import BadArgument
from ipclab.experiments import scheduler_game as sg

# (level, schedule, won): a winning and a losing schedule for every level
CASES = [
    ("counter-to-1", "A A B B B A", True),                  # both load 0; A stores 1 last
    ("counter-to-1", "A B A B A B", True),
    ("counter-to-1", "A A A B B B", False),                 # one after the other: 2
    ("counter-to-2", "A B B B B B B A A B A A A A A A B B", True),
    ("counter-to-2", "A B A B A B A B A B A B A B A B A B", False),
    ("starve", "A B A B", True),                            # each takes its first fork: deadlock
    ("starve", "A A A A A B B B B B", False),               # A eats, puts both back, B eats
    ("lost-update-3", "A B C A A B B C C", True),           # all load 0; the last store writes 1
    ("lost-update-3", "A A A B B B C C C", False),          # one after the other: 3
]


def _expected_won(level, schedule):
    """The answer on paper, to cross-check the table."""
    st = sg.simulate(level, schedule)
    if level == "starve":
        return st.over(sg.level(level)) and any(st.pc[n] < 5 for n in st.pc)
    return st.shared["counter"] == {"counter-to-1": 1, "counter-to-2": 2, "lost-update-3": 1}[level]


@pytest.mark.parametrize("level,schedule,won", CASES)
def test_level_outcome_on_real_processes(level, schedule, won):
    assert _expected_won(level, schedule) == won          # the table agrees with the paper answer
    out = sg.play(level, schedule)
    assert out.over and out.won == won, out.board
    assert out.verdict.startswith("WON" if won else "LOST")
    assert out.shared == sg.simulate(level, schedule).shared   # real memory == paper


def test_all_load_zero_with_three_is_a_win():
    out = sg.play("lost-update-3", "A B C A B C A B C")
    assert out.won and out.shared == {"counter": 1}


def test_deadlock_is_confirmed_by_real_timeouts():
    with sg.Game("starve", confirm_timeout=0.2) as g:
        moves = g.run("A B A B")
        assert [m.blocked for m in moves] == [False, False, True, True]
        assert g.semaphores == {"fork1": 0, "fork2": 0}      # sem_getvalue: both forks held
        assert g.over
        out = g.outcome()
        assert out.won and out.status == {"A": "deadlocked", "B": "deadlocked"}
        assert out.shared == {"meals_A": 0, "meals_B": 0}


def test_blocked_process_gets_the_fork_once_it_is_posted():
    with sg.Game("starve") as g:
        g.run("A A B")                 # A holds both forks; B tries fork2: blocked
        assert g.history[-1].blocked and g.status("B") == sg.BLOCKED and not g.over
        g.run("A A A B")               # A eats, puts fork2 back; B's retry succeeds
        assert not g.history[-1].blocked and g.pc("B") == 1


def test_unfinished_game_is_neither_won_nor_lost():
    out = sg.play("counter-to-1", "A A")
    assert not out.over and not out.won and out.verdict.startswith("not over")


def _state(g):
    return ({n: (g.pc(n), g.register(n), g.status(n)) for n in g.names}, g.shared, g.semaphores,
            [(m.who, m.op, m.blocked, m.register, m.shared) for m in g.history])


@pytest.mark.parametrize("level,schedule,back", [("counter-to-2", "A B B A B A A B", 3),
                                                 ("starve", "A A B B A", 2)])
def test_undo_equals_replaying_the_prefix(level, schedule, back):
    prefix = " ".join(schedule.split()[:-back])
    with sg.Game(level) as fresh:
        fresh.run(prefix)
        want = _state(fresh)
    with sg.Game(level) as g:
        g.run(schedule)
        before = set(g.pids.values())
        g.undo(back)
        assert _state(g) == want
        assert g.schedule_so_far() == prefix
        assert not before & set(g.pids.values())             # fresh processes
        g.run(" ".join(schedule.split()[-back:]))            # and the game goes on
        assert g.schedule_so_far() == schedule


@pytest.mark.parametrize("level", list(sg.LEVELS))
def test_same_seed_same_schedule_and_it_is_complete(level):
    a, b = sg.random_schedule(level, 4), sg.random_schedule(level, 4)
    assert a == b
    assert len({sg.random_schedule(level, s) for s in range(8)}) > 1
    out = sg.play(level, a)
    assert out.over
    assert out.shared == sg.simulate(level, a).shared


def test_every_start_method(start_method):
    assert sg.play("counter-to-1", "A B A B A B", start_method=start_method).won


def test_refusals():
    with pytest.raises(BadArgument, match="no level"):
        sg.play("nope", "A")
    with pytest.raises(BadArgument, match="NAME"):
        sg.parse_schedule("A C", names=["A", "B"])
    with pytest.raises(BadArgument, match="NAME"):
        sg.parse_schedule("a")
    with sg.Game("counter-to-1") as g:
        with pytest.raises(BadArgument, match="next step is load"):
            g.step("A", "store")
        g.run("A:load A:add A:store")
        with pytest.raises(BadArgument, match="finished"):
            g.step("A")
        with pytest.raises(BadArgument, match="undo"):
            g.undo(4)


# -- the widget, without a browser --------------------------------------------
def test_widget_plays_a_level_with_undo():
    from ipclab.presentation.widgets import scheduler_game as ws
    ui = ws.GameUI("counter-to-1")
    try:
        assert ui.game is None                               # nothing created before the first click
        for who in "AAB":
            ui.click(who)
        assert "reg = 1" in ui.text() and ui.game.history[-1].who == "B"
        assert ui.undo() == "A A" and "replayed 2 steps" in ui.text()
        for who in "BBBA":
            result = ui.click(who)
        assert result.won and "WON" in ui.text()
        assert ui.click("A") is None and "finished" in ui.text()
        ui.set_level("starve")
        assert ui.game is None and "starve" in ui.text()
    finally:
        ui.close()


def test_widget_hides_the_random_schedule_until_reveal():
    from ipclab.presentation.widgets import scheduler_game as ws
    ui = ws.GameUI("counter-to-2")
    try:
        schedule = ui.random(7)
        assert schedule == sg.random_schedule("counter-to-2", 7) and schedule in ui.text()
        final = ui.game.shared["counter"]
        hidden = ui.text()
        assert "WON" not in hidden and "LOST" not in hidden
        assert "counter ?" in " ".join(hidden.split()) and "reg = ?" in hidden
        assert ui.click("A") is None                          # no playing over a hidden board
        ui.guess.value = "counter = 3"
        out = ui.reveal()
        assert out.shared["counter"] == final
        shown = " ".join(ui.text().split())
        assert f"counter {final}" in shown and ("WON" in shown or "LOST" in shown)
    finally:
        ui.close()


def test_widget_hides_a_deadlock_until_reveal():
    from ipclab.presentation.widgets import scheduler_game as ws
    seed = next(s for s in range(50) if sg.simulate("starve", sg.random_schedule("starve", s)).blocked_steps == 0
                and sg.simulate("starve", sg.random_schedule("starve", s)).over(sg.level("starve"))
                and any(pc < 5 for pc in sg.simulate("starve", sg.random_schedule("starve", s)).pc.values()))
    ui = ws.GameUI("starve")
    try:
        ui.random(seed)
        hidden = ui.text()
        assert "deadlocked" not in hidden and "blocked" not in hidden.replace("x blocked", "")
        assert "WON" not in hidden
        out = ui.reveal()
        assert out.won and "WON" in ui.text() and "deadlocked" in ui.text()
    finally:
        ui.close()


@pytest.mark.parametrize("increments,finals", [(1, {1, 2}), (2, {2, 3, 4})])
def test_every_interleaving_on_paper(increments, finals):
    """Why counter-to-1 has one increment each: with two or more, no schedule ends below 2."""
    import itertools
    lv = sg._counter_level("x", "", "", 2, increments)
    n = 3 * increments
    seen = set()
    for a_at in itertools.combinations(range(2 * n), n):
        schedule = " ".join("A" if k in a_at else "B" for k in range(2 * n))
        seen.add(sg.simulate(lv, schedule).shared["counter"])
    assert seen == finals
