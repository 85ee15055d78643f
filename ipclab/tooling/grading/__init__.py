"""The grader: the lab tests (``labtests``), the test kit (``labkit``) and the runner (``grading``)."""
