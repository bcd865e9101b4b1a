"""Running jobs in several threads at once, started together."""

import threading


def run_concurrently(jobs, repeats=3):
    results = [None] * len(jobs)
    errors = []
    start = threading.Barrier(len(jobs))

    def work(i, job):
        try:
            start.wait()
            results[i] = [job() for _ in range(repeats)]
        except Exception as error:  # reported below, with the thread's traceback
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results
