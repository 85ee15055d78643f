# SystemExit at import, with a message: shown once, not once per test.
import sys
sys.exit("the lab module refuses to load")
