"""The C demos of notebook 07: seqlock, robust mutex versus SEM_UNDO, process-shared condvar."""

import pytest

from ipclab.core import cbuild
from ipclab.experiments import pshared_demos

pytestmark = pytest.mark.skipif(not cbuild.have_gcc(), reason="gcc is not installed")


def test_seqlock_readers_never_see_a_torn_pair():
    r = pshared_demos.seqlock("seqlock", count=200_000)
    assert (r.mode, r.reads, r.torn) == ("seqlock", 200_000, 0)


def test_without_the_sequence_number_the_counts_are_consistent():
    r = pshared_demos.seqlock("none", count=200_000)
    assert r.reads == 200_000 and 0 <= r.torn <= r.reads and r.retries == 0


def test_robust_mutex_reports_the_dead_owner_sem_undo_does_not():
    r = pshared_demos.robust_vs_undo()
    assert r.mutex_died_by == "SIGKILL" and r.sem_died_by == "SIGKILL"
    assert r.mutex_eownerdead and r.mutex_found == (90, 0) and r.mutex_after == (90, 10)
    assert r.sem_found == (90, 0) and "EOWNERDEAD" not in r.sem_output


def test_process_shared_condition_variable_wakes_the_other_process():
    assert pshared_demos.condvar().startswith('woken: message = "written under the lock by pid')
