"""The scheduler game's controls (notebook 01): you choose which real process takes its next step.

Presentation only: every rule, level, step and verdict comes from
:mod:`ipclab.experiments.scheduler_game`; this module draws the board (each process's code
with its current line highlighted, its register, the shared memory, the timeline) and wires
the buttons. Every callback is a plain method a test calls without a browser. Processes and
objects are created on the first click (not when the widget is displayed) and removed on
Restart, on a level change, by :meth:`GameUI.close`, or at kernel exit (the registry).

Predict, then reveal: **Random schedule** plays a seeded schedule on real processes and
shows the schedule and the timeline, but every value stays ``?`` until **Reveal**.
"""

import html

import ipywidgets as w

from ipclab.core.errors import WaitTimeout
from ipclab.experiments import scheduler_game as sg

_COLORS = {"won": "#009E73", "lost": "#D55E00", "hl": "#fff3b0", "blocked": "#E69F00"}  # Okabe-Ito


def _esc(x):
    return html.escape(str(x))


def code_html(game, who, hidden=False):
    """One process's code, its current line highlighted, and its register (all ``?`` if hidden)."""
    rows = []
    for text, cur in game.listing(who):
        cur = cur and not hidden
        style = f"background:{_COLORS['hl']};font-weight:bold" if cur else ""
        rows.append(f"<div style='{style};white-space:pre'>{'&#9654; ' if cur else '  '}{_esc(text)}</div>")
    status = "?" if hidden else sg.STATUS_NAMES[game.status(who)]
    color = _COLORS["blocked"] if status in ("blocked", "deadlocked") else "inherit"
    reg = "?" if hidden else game.register(who)
    extra = f", i = {game.iteration(who)}" if game.level.programs[who].passes > 1 else ""
    return (f"<div style='font-family:monospace;font-size:90%'><b>process {who}</b> "
            f"<span style='color:{color}'>[{status}]</span><br>registers: reg = {_esc(reg)}{extra}"
            f"<div style='border:1px solid #ccc;padding:2px;margin-top:2px'>{''.join(rows)}</div></div>")


def memory_html(game, hidden=False):
    cells = [(k, v) for k, v in game.shared.items()] + [(k, v) for k, v in game.semaphores.items()]
    body = "".join(f"<tr><td style='padding:0 6px'>{_esc(k)}</td><td><b>{'?' if hidden else _esc(v)}</b></td></tr>"
                   for k, v in cells)
    return f"<div style='font-family:monospace'><b>shared memory</b><table>{body}</table></div>"


def timeline_html(game, hidden=False):
    """The history as a grid: a row per process, a column per step (x: blocked)."""
    if not game.history:
        return "<div style='font-family:monospace'><b>timeline</b>: no step yet</div>"
    rows = sg.timeline_rows(game.names, game.history)
    lines = "<br>".join(_esc(r) for r in rows)
    last = game.history[-1]
    note = "" if hidden else f"<br>last: {_esc(str(last).strip())}"
    return f"<div style='font-family:monospace;white-space:pre'><b>timeline</b> (L load, + add, S store, W wait, E eat, P post, x blocked)<br>{lines}{note}</div>"


class GameUI:
    """Levels, one Step button per process, Undo, Restart, a seeded Random schedule and Reveal."""

    def __init__(self, level="counter-to-1", start_method="fork", step_timeout=600.0):
        self.start_method, self.step_timeout = start_method, step_timeout
        self.game = None
        self.hidden = False
        self._buttons = {}
        self.level_choice = w.Dropdown(options=[(f"{lv.key}: {lv.title}", lv.key) for lv in sg.LEVELS.values()],
                                       value=level, description="level", layout=w.Layout(width="60%"))
        self.level_choice.observe(lambda ch: self.set_level(ch["new"]), names="value")
        self.goal = w.HTML()
        self.columns = w.HBox()
        self.memory, self.timeline, self.message = w.HTML(), w.HTML(), w.HTML()
        self.undo_button = w.Button(description="Undo")
        self.undo_button.on_click(lambda _: self.undo())
        self.restart_button = w.Button(description="Restart")
        self.restart_button.on_click(lambda _: self.restart())
        self.seed = w.IntText(1, description="seed", layout=w.Layout(width="150px"))
        self.random_button = w.Button(description="Random schedule", layout=w.Layout(width="auto"))
        self.random_button.on_click(lambda _: self.random(self.seed.value))
        self.guess = w.Text(description="prediction", placeholder="e.g. counter = 2")
        self.reveal_button = w.Button(description="Reveal")
        self.reveal_button.on_click(lambda _: self.reveal())
        self.widget = w.VBox([self.level_choice, self.goal, self.columns,
                              w.HBox([self.memory, self.timeline]),
                              w.HBox([self.undo_button, self.restart_button]),
                              w.HBox([self.seed, self.random_button, self.guess, self.reveal_button]),
                              self.message])
        self.set_level(level)

    # -- state ----------------------------------------------------------------
    @property
    def level(self):
        return sg.level(self.level_choice.value)

    def _open(self):
        if self.game is None:
            self.game = sg.Game(self.level.key, start_method=self.start_method,
                                step_timeout=self.step_timeout).open()
        return self.game

    def _draw(self, message=None):
        lv = self.level
        self.goal.value = f"<b>Goal:</b> {_esc(lv.goal)}"
        if self.game is None:
            self.memory.value = self.timeline.value = ""
            self.columns.children = [self._column(n, None) for n in lv.names]
        else:
            self.columns.children = [self._column(n, code_html(self.game, n, self.hidden)) for n in lv.names]
            self.memory.value = memory_html(self.game, self.hidden)
            self.timeline.value = timeline_html(self.game, self.hidden)
        if message is not None:
            self.message.value = message

    def _column(self, who, body):
        if who not in self._buttons:
            self._buttons[who] = w.Button(description=f"Step {who}", button_style="primary")
            self._buttons[who].on_click(lambda _, who=who: self.click(who))
        if body is None:
            body = f"<div style='font-family:monospace'><b>process {who}</b><br>" + "".join(
                f"<div style='white-space:pre'>  {_esc(t)}</div>" for t in self.level.programs[who].listing()) + "</div>"
        return w.VBox([w.HTML(body), self._buttons[who]], layout=w.Layout(margin="0 12px 0 0"))

    def _verdict_html(self, outcome):
        color = _COLORS["won"] if outcome.won else _COLORS["lost"]
        return (f"<div style='color:{color};font-weight:bold'>{_esc(outcome.verdict)}</div>"
                f"<div style='font-family:monospace'>schedule: {_esc(outcome.schedule)}</div>")

    # -- actions (plain methods: the tests call them) ---------------------------
    def click(self, who):
        """Process *who* runs its current line. Returns the Move, or None (with a message) if it cannot."""
        if self.hidden:
            self._draw("a random schedule is on the board: Reveal it first, or Restart")
            return None
        game = self._open()
        if game.next_instr(who) is None:
            self._draw(f"process {who} has finished; choose another")
            return None
        try:
            move = game.step(who)
        except WaitTimeout as e:          # the processes gave up waiting for you: replay on fresh ones
            game.replay(game.schedule_so_far())
            self._draw(f"{_esc(e)}; replayed your {len(game.history)} steps on fresh processes: click again")
            return None
        if game.over:
            return self._finish()
        self._draw("blocked: the semaphore is 0, so the process stays on its line" if move.blocked else "")
        return move

    def _finish(self):
        outcome = self.game.outcome()
        self._draw(self._verdict_html(outcome))
        return outcome

    def undo(self):
        """One step back: the schedule minus its last step, replayed on fresh processes."""
        if self.game is None or not self.game.history or self.hidden:
            self._draw("nothing to undo")
            return None
        self.game.undo()
        self._draw(f"undone: replayed {len(self.game.history)} steps on fresh processes "
                   f"(real processes cannot step back)")
        return self.game.schedule_so_far()

    def random(self, seed):
        """Restart and play the seeded random schedule on real processes; values hidden until Reveal."""
        self.restart()
        schedule = sg.random_schedule(self.level.key, seed)
        game = self._open()
        game.run(schedule)
        self.hidden = True
        self._draw(f"seed {seed}: schedule <code>{_esc(schedule)}</code> played on real processes. "
                   "Predict the final state (type it), then Reveal. Same seed, same schedule: "
                   "compare with a friend.")
        return schedule

    def reveal(self):
        """Show the values and the verdict of the random schedule on the board."""
        if not self.hidden or self.game is None:
            self._draw("nothing to reveal: play a Random schedule first")
            return None
        self.hidden = False
        outcome = self.game.outcome()
        guess = self.guess.value.strip()
        said = f"<div>your prediction: {_esc(guess)}</div>" if guess else ""
        self._draw(self._verdict_html(outcome) + said)
        return outcome

    def restart(self):
        self.close()
        self._draw("")

    def set_level(self, key):
        self.close()
        self._buttons = {}
        if self.level_choice.value != key:
            self.level_choice.value = key   # observe calls set_level again, harmlessly
        self._draw("click a Step button to start (the processes are created on the first click)")

    def close(self):
        self.hidden = False
        if self.game is not None:
            game, self.game = self.game, None
            game.close()

    def text(self):
        """Everything the widget shows, as plain text (for tests and headless use)."""
        import re
        parts = [self.goal.value, *(c.children[0].value for c in self.columns.children),
                 self.memory.value, self.timeline.value, self.message.value]
        return html.unescape(re.sub(r"<[^>]+>", " ", "\n".join(parts)))


# The public names (at the end, so the line numbers that notebooks show with
# ipclab.presentation.glass.show stay put).
__all__ = ["code_html", "memory_html", "timeline_html", "GameUI"]
