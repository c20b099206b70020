"""Running one function from several threads at once, for the thread-safety tests."""

import threading


def run_in_threads(fn, threads=4, repeats=3):
    """``fn()`` called ``repeats`` times in each of ``threads`` threads started together.

    Returns the last result of each thread; an exception in any thread is raised here.
    """
    results, errors = [None] * threads, []

    def work(i):
        try:
            for _ in range(repeats):
                results[i] = fn()
        except Exception as e:  # raised below, in the test's thread
            errors.append(e)

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if errors:
        raise errors[0]
    return results
