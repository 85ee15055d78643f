"""An explorer for the dining philosophers of notebook 02: pick n, atomic or not, barrier, timeout; run.

The button's callback is :func:`run_dining`, a plain function (no browser needed): it runs
:func:`ipclab.experiments.sysv_demos.dining` on real processes and returns the figure and a verdict line.
"""

from ipclab.experiments import sysv_demos
from ipclab.presentation.plots import semaphores as plots


def verdict(result):
    """One line saying what happened at the table."""
    how = "atomic semop" if result["atomic"] else "one-at-a-time"
    if result["deadlock"]:
        return f"{how}: deadlock detected after {result['wait']:g} s timeout ({result['meals']} meals eaten)"
    return f"{how}: all philosophers ate ({result['meals']} meals)"


def run_dining(n=5, atomic=False, barrier=True, wait=2.0, meals=3, start_method="fork"):
    """Run one dinner; ``(figure, verdict line)``."""
    result = sysv_demos.dining(n=n, meals=meals, atomic=atomic, wait=wait, barrier=barrier,
                               start_method=start_method, timeout=60)
    return plots.dining([result]), verdict(result)


def dining_explorer():
    """Sliders and a Run button over :func:`run_dining`; the figure and verdict appear below."""
    import ipywidgets as w
    import matplotlib.pyplot as plt
    from IPython.display import display

    wide = {"style": {"description_width": "initial"}}  # labels in full, not cut at 80 px
    n = w.IntSlider(5, min=2, max=8, description="philosophers", **wide)
    atomic = w.Checkbox(False, description="atomic semop (both forks at once)", indent=False)
    barrier = w.Checkbox(True, description="barrier (everyone holds the left fork first)", indent=False)
    wait = w.FloatSlider(2.0, min=0.5, max=5.0, step=0.5, description="timeout (s)", **wide)
    button = w.Button(description="Run the dinner", button_style="primary")
    out = w.Output()

    def on_click(_):
        out.clear_output()
        with out:
            fig, line = run_dining(n.value, atomic.value, barrier.value, wait.value)
            print(line)
            display(fig)
            plt.close(fig)

    button.on_click(on_click)
    return w.VBox([n, atomic, barrier, wait, button, out])


# The public names (at the end, so the line numbers that notebooks show with
# ipclab.presentation.glass.show stay put).
__all__ = ["verdict", "run_dining", "dining_explorer"]
