# Register a file that is not ours in ipclab's registry, hoping the grader's cleanup deletes it.
CANARY = globals().get("CANARY", "/etc/hostname")
try:
    from ipclab.core import registry
    registry.register("file", path=CANARY, note="please delete me")
except Exception:
    pass
