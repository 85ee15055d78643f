# Fork until the system says no, and keep the children alive.
import os, time
kids = 0
try:
    while kids < 5000:
        if os.fork() == 0:
            time.sleep(1000)
            os._exit(0)
        kids += 1
except OSError:
    pass
