"""Controls for notebook 01: the counter race and the step-by-step explorer.

Every callback is a plain method that a test calls without a browser; the widgets only call
them. The explorer creates its processes and objects on the first click (not when displayed),
and removes them when the game ends, on Reset, or at kernel exit.
"""

import ipywidgets as w

from ipclab.experiments import race


def verdict(result):
    """The verdict lines a student must see for one :func:`ipclab.experiments.race.count` result."""
    lines = [f"{result.n_procs} processes x {result.m} increments: expected {result.expected}, "
             f"found {result.final}"]
    if result.lock:
        lines.append("with the lock: " + ("exact" if result.lost == 0 else f"WRONG, {result.lost} lost"))
    else:
        lines.append("lost updates: " + ("yes" if result.lost > 0 else "none this time"))
    return "\n".join(lines)


class CounterControls:
    """Sliders for processes and increments, a lock checkbox and a Run button."""

    def __init__(self, start_method="fork", window=race.DEFAULT_WINDOW):
        self.start_method, self.window = start_method, window
        self.n = w.IntSlider(2, min=1, max=8, description="processes")
        self.m = w.IntSlider(200, min=10, max=2000, step=10, description="increments")
        self.lock = w.Checkbox(False, description="lock (semaphore)")
        self.button = w.Button(description="Run", button_style="primary")
        self.out = w.Textarea(rows=3, layout=w.Layout(width="95%"), disabled=True)
        self.button.on_click(lambda _: self.run())
        self.widget = w.VBox([w.HBox([self.n, self.m, self.lock, self.button]), self.out])

    def run(self):
        """Run the experiment with the current settings; returns the result and shows the verdict."""
        result = race.count(self.n.value, self.m.value, lock=self.lock.value, window=self.window,
                            start_method=self.start_method, timeout=120)
        self.out.value = verdict(result) + f"\n({result.elapsed * 1e3:.0f} ms)"
        return result


class ExplorerUI:
    """Buttons that let one process take its next step; prediction, reveal, and seeded replay.

    The older, single-level explorer; the game (levels, undo, timeline) is
    :class:`ipclab.presentation.widgets.scheduler_game.GameUI`.
    """

    def __init__(self, processes=2, increments=1, start_method="fork", step_timeout=600.0):
        self.processes, self.increments = processes, increments
        self.start_method, self.step_timeout = start_method, step_timeout
        self.explorer = None
        names = race.process_names(processes)
        self.buttons = {n: w.Button(description=f"{n}: next step") for n in names}
        for n, b in self.buttons.items():
            b.on_click(lambda _, n=n: self.click(n))
        self.guess = w.IntText(0, description="predict final", style={"description_width": "initial"})
        self.reveal_button = w.Button(description="Reveal")
        self.reveal_button.on_click(lambda _: self.reveal())
        self.seed = w.IntText(1, description="seed")
        self.replay_button = w.Button(description="Replay random schedule", layout=w.Layout(width="auto"))
        self.replay_button.on_click(lambda _: self.replay(self.seed.value))
        self.reset_button = w.Button(description="Reset")
        self.reset_button.on_click(lambda _: self.reset())
        self.status = w.Textarea(rows=4 + processes, layout=w.Layout(width="95%"), disabled=True)
        self.log = w.Textarea(rows=6, layout=w.Layout(width="95%"), disabled=True)
        self.widget = w.VBox([w.HBox(list(self.buttons.values())),
                              w.HBox([self.guess, self.reveal_button]),
                              w.HBox([self.seed, self.replay_button, self.reset_button]),
                              self.status, self.log])
        self.status.value = "Click a process to start (its processes are created on the first click)."

    def _open(self):
        if self.explorer is None:
            self.explorer = race.Explorer(self.processes, self.increments, start_method=self.start_method,
                                          timeout=30.0, step_timeout=self.step_timeout).open()
        return self.explorer

    def _show(self, extra=""):
        ex = self.explorer
        self.status.value = ex.describe() + (f"\n{extra}" if extra else "")
        self.log.value = "\n".join(str(s) for s in ex.history)

    def click(self, who):
        """Process *who* takes its next step (ignored, with a message, if it has finished)."""
        ex = self._open()
        if ex.next_op(who) is None:
            self._show(f"{who} has finished; choose another process")
            return None
        step = ex.step(who)
        self._show("all processes finished: predict, then Reveal" if ex.finished else "")
        return step

    def reveal(self):
        """Compare the prediction with the real shared value; finishes nothing, closes if finished."""
        ex = self._open()
        if not ex.finished:
            self._show("not finished yet: the final value is known only when every process has stored")
            return None
        final = ex.shared
        expected = self.processes * self.increments
        ok = "right" if self.guess.value == final else "wrong"
        lost = expected - final
        msg = (f"final value {final} (you predicted {self.guess.value}: {ok}); "
               f"{expected} increments, {lost} lost\nschedule: {ex.schedule_so_far()}")
        self._show(msg)
        self.close()
        self.status.value += ""
        return final

    def replay(self, seed):
        """Start over and play the seeded random schedule to its end (then predict and Reveal)."""
        self.reset()
        ex = self._open()
        schedule = race.random_schedule(self.processes, self.increments, seed)
        ex.run(schedule)
        # predict, then reveal: the schedule only; no value before Reveal
        self.status.value = (f"replayed seed {seed} on real processes: {schedule}\n"
                             "predict the final value from the schedule, then Reveal")
        self.log.value = "\n".join(f"{s.who}:{s.op}" for s in ex.history)

    def reset(self):
        self.close()
        self.status.value = "Reset. Click a process to start."
        self.log.value = ""

    def close(self):
        if self.explorer is not None:
            ex, self.explorer = self.explorer, None
            ex.close()


# The public names (at the end, so the line numbers that notebooks show with
# ipclab.presentation.glass.show stay put).
__all__ = ["verdict", "CounterControls", "ExplorerUI"]
