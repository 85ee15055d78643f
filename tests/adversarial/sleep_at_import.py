# Sleep at import: without a budget this costs every test its whole timeout.
import time
time.sleep(1000)
