"""A study's batches on a Dask cluster: the scheduler's address checked, the cluster
connected and given the project's code, and the batches run as its workers' tasks, the
study ended in one line when the cluster fails it.

A Dask cluster's workers get the project's code shipped as one zip (the study package and
the two nets: ship()), and import it afresh.
"""
import os
import sys
import threading
import time
import warnings

from study import cli

PACKAGE = os.path.dirname(os.path.abspath(__file__))  # study/, shipped to Dask workers
NETS_SHIPPED = ("original_net.py", "broken_net.py")  # beside it, shipped too

class Cancelled(Exception):
    """The study no longer wants this batch."""


class StopWhenCancelled:
    """A Dask task's stop: it ends when its future is cancelled (Ctrl-C) or released
    (the study's client is gone); the worker is then free for other work."""

    def __call__(self, epoch):
        from distributed import get_worker
        worker = get_worker()
        task = worker.state.tasks.get(worker.get_current_task())
        if task is None or task.state != "executing":
            raise Cancelled()


class NoCluster(cli.Failure):
    """The Dask scheduler cannot be reached or used: one line, exit status 1."""


CONNECT_SECONDS = 5  # how long a scheduler has to answer


def checked_scheduler(address):
    """Before any work, for --scheduler: Dask is installed and address is a scheduler's
    address (check_address); cli.UsageError, saying why, if not."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise cli.UsageError('--scheduler needs Dask: python3 -m pip install '
                             '"dask[distributed]"') from None
    try:
        check_address(address)
    except ValueError as error:
        raise cli.UsageError(f"--scheduler {address}: {error}") from None
    return address


def check_address(address):
    """Before anything else: address is a scheduler's address as distributed reads it,
    scheme://host:port (tcp:// if none), with a scheme it can connect over; ValueError,
    saying why, if not. (distributed takes 'host:notaport' and fails only in Client(),
    whose half-made instance then waits 10 s at exit to close.)"""
    from distributed.comm import parse_address
    from distributed.comm.addressing import parse_host_port
    from distributed.comm.registry import backends
    try:
        scheme, location = parse_address(address)
        host, port = parse_host_port(location)
    except ValueError:
        scheme = host = port = None
    if (scheme not in backends or scheme == "inproc" or not host
            or not location.rpartition(":")[2].isdigit()):
        raise ValueError("not an address such as tcp://host:8786")
    if not 0 < port < 2 ** 16:
        raise ValueError(f"port {port} is not 1 to 65535")


def identity(address, timeout):
    """What answers at address, asked as a Dask client would (distributed's connect, then
    the identity call): its identity, whose "type" is Scheduler, Worker or Nanny. NoCluster
    if nothing answers so within timeout seconds: distributed bounds the connection, not
    the handshake that follows (distributed/comm/core.py, connect: `handshake = await
    comm.read()`), so that Client() waits for ever on a service that is not Dask."""
    import asyncio
    from distributed.comm import connect as open_comm

    async def ask():
        comm = await open_comm(address, timeout=timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()
    from concurrent.futures import ThreadPoolExecutor
    try:  # on a thread of its own: the caller may be running an event loop (a notebook)
        with ThreadPoolExecutor(1) as thread:
            answer = thread.submit(asyncio.run, asyncio.wait_for(ask(), timeout)).result()
    except Exception:  # refused, timed out, or garbled (another protocol's bytes)
        answer = None
    if not isinstance(answer, dict) or not isinstance(answer.get("type"), str):
        raise NoCluster(f"no Dask scheduler answers at {address} within {timeout} s")
    return answer


def silence_distributed():
    """distributed's log lines are not ours: what goes wrong is said in one line. (A lost
    scheduler, say, has the client log its failed reconnection as an error.) distributed
    gives some of its loggers levels of their own (distributed.client), so each is set."""
    import logging
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if (name == "distributed" or name.startswith("distributed.")) and isinstance(
                logger, logging.Logger) and (logger.level or name == "distributed"):
            logger.setLevel(logging.CRITICAL)


def connect(address):
    """A dask.distributed Client of the scheduler at address, with the project's code
    shipped to its workers (ship), and its workers' threads."""
    timeout = CONNECT_SECONDS
    from distributed import Client
    silence_distributed()
    try:
        check_address(address)  # a Client half made would fail at exit
    except ValueError as error:
        raise NoCluster(f"--scheduler {address}: {error}") from None
    kind = identity(address, timeout)["type"]
    if kind != "Scheduler":  # a worker's address, say (what answers there names its kind)
        raise NoCluster(f"{address} is a Dask {kind.lower()}, not a scheduler"
                        if kind.isalpha() and len(kind) <= 20 else
                        f"{address} is no Dask scheduler")
    try:
        with warnings.catch_warnings():  # another version on the cluster: its workers'
            warnings.simplefilter("ignore")  # imports below say what matters
            client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError):
        raise NoCluster(f"no Dask scheduler answers at {address} within {timeout} s") from None
    try:
        threads = sum(w["nthreads"] for w in client.scheduler_info()["workers"].values())
        if not threads:
            raise NoCluster(f"the Dask scheduler at {address} has no workers")
        ship(client)
    except BaseException:
        client.close()
        raise
    return client, threads


def ship(client):
    """The project's code to every worker of client, as one zip (the study package and
    the nets), which each worker imports afresh: a worker that ran an older version
    forgets it. NoCluster, with the worker's reason, if a worker cannot import it."""
    import tempfile
    import zipfile
    project = os.path.dirname(PACKAGE)
    files = [os.path.join("study", name) for name in sorted(os.listdir(PACKAGE))
             if name.endswith(".py")] + list(NETS_SHIPPED)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "study.zip")
        with zipfile.ZipFile(path, "w") as bundle:
            for name in files:
                bundle.write(os.path.join(project, name), name)
        try:
            # A worker plugin, not client.upload_file, which also loads the zip on the
            # scheduler: a scheduler in this process would then import the study from
            # a zip that Dask later deletes. The plugin also reaches workers started
            # later; one name, so a newer zip replaces an older.
            from distributed.diagnostics.plugin import UploadFile
            client.register_plugin(UploadFile(path), name="study-code")
            client.run(import_afresh)
        except Exception as error:  # the worker's import failed: its message says why
            said = "the Dask workers cannot import the study: "
            why = (str(error).splitlines() or [""])[0]  # 'No module named numpy'
            if not (isinstance(error, ImportError) and why):
                why = f"{type(error).__name__}: {why}"
            raise NoCluster(said + cli.clipped(why, cli.ROOM - len(said))
                            ) from None


def import_afresh():
    """On a worker: the project's modules imported again from the newest zip shipped."""
    import importlib
    for name in list(sys.modules):
        if name in ("study", "original_net", "broken_net") or name.startswith("study."):
            del sys.modules[name]
    importlib.invalidate_caches()
    importlib.import_module("study.training")


NO_WORKERS_SECONDS = 10  # how long a cluster may have no worker mid-study (a nanny
# restarts a killed worker in seconds; a scheduler keeps tasks waiting for one for ever)

# How long a study waits for a scheduler that neither answers nor finishes a batch, or
# for a worker that sends no heartbeat (a process stopped, its machine hung). A worker
# heartbeats every 0.5 s while it trains, so this need not wait out a batch; it is all
# the same longer than any: the longest batch of make_report's studies (60 runs
# of Result 2 at 500 epochs, with the ablation and the alignment measure) took 131 s on
# one core of this 2-core AMD EPYC, and 600 s leaves a worker four times slower room.
# compare.py --stall-seconds changes it.
STALL_SECONDS = 600
ASK_SECONDS = 1  # how often the cluster is asked how it is


class Watch:
    """What the study knows of its cluster: when it last answered, or a batch last
    finished; and, once the watch ends the study, why (said)."""

    def __init__(self, address, stall_seconds):
        self.address, self.stall_seconds = address, stall_seconds
        self.heard = time.monotonic()  # the scheduler answered, or a batch finished
        self.said = None  # why the watch cancelled the study's tasks
        self.stopped = threading.Event()


def on_cluster(client, groups, settings, train_batch, stall_seconds=STALL_SECONDS):
    """The batches' results (train_batch of each group) as the cluster's workers finish
    them, through joblib's Dask backend; on Ctrl-C (or any stop) every task still wanted
    is cancelled, and the cluster stays up for others. NoCluster if the scheduler is lost,
    or watch_cluster ends the study (no workers, or a scheduler or workers silent for
    stall_seconds): then the tasks are cancelled, and the wait for their results ends."""
    from concurrent.futures import CancelledError

    from joblib import Parallel, delayed, parallel_config
    address = client.scheduler.address
    watch = Watch(address, stall_seconds)
    threading.Thread(target=watch_cluster, args=(client, watch), name="watch_cluster",
                     daemon=True).start()
    try:
        with parallel_config(backend="dask", client=client):
            for result in Parallel(n_jobs=-1, return_as="generator_unordered")(
                    delayed(train_batch)(group, settings, StopWhenCancelled())
                    for group in groups):
                watch.heard = time.monotonic()
                yield result
    except CancelledError as error:  # distributed's FutureCancelledError
        if watch.said:
            raise NoCluster(watch.said) from None
        reason = getattr(error, "reason", "scheduler-connection-lost")
        raise NoCluster(f"lost the Dask scheduler at {address} mid-study"
                        if reason == "scheduler-connection-lost" else
                        f"the Dask cluster at {address} cancelled the study ({reason})") from None
    finally:
        watch.stopped.set()
        if not (watch.said or "").startswith("the Dask scheduler"):  # it would not answer
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cancel_all(client)


def cancel_all(client):
    """Every task of the client's cancelled. (client.cancel takes futures, and
    client.futures holds keys: client.cancel(list(client.futures)) cancels nothing.)"""
    from distributed import Future
    keys = list(client.futures)
    if keys:
        client.cancel([Future(key, client) for key in keys])


def cancel_here(client, reason):
    """Every task of the client's cancelled on the client's side alone, as distributed
    cancels them when it loses the scheduler: for a scheduler that does not answer."""
    def cancel():
        for state in list(client.futures.values()):
            state.cancel(reason=reason, msg=reason)
    client.loop.add_callback(cancel)


def disconnect(client):
    """The client closed, within CONNECT_SECONDS even if its scheduler does not answer."""
    try:
        client.close(timeout=CONNECT_SECONDS)
    except Exception:  # a scheduler that stalled or is gone: nothing more to tell it
        pass


def watch_cluster(client, watch):
    """Until watch.stopped is set, the scheduler asked every ASK_SECONDS for its workers
    and when it last heard from each. The study's tasks are cancelled, and watch.said
    says why, once the cluster has had no workers for NO_WORKERS_SECONDS; once the
    scheduler has not answered, nor a batch finished, for watch.stall_seconds; or once
    every worker has sent no heartbeat for as long. A silent worker while others still
    answer is removed from the cluster (the scheduler's own remove_worker, as its
    worker-ttl would), and its batch goes to another worker; if the scheduler will not
    remove it, the study ends. (The scheduler's worker-ttl, five minutes by default and
    not the client's to set, restarts a silent worker through its nanny, which cannot end
    a stopped process: the batch waited for ever.)"""
    import asyncio
    heard, empty = {}, None  # each worker's last heartbeat, and when it changed here
    while not watch.stopped.wait(ASK_SECONDS):
        now = time.monotonic()
        try:
            answer = client.sync(client.scheduler.identity, n_workers=-1, callback_timeout=max(
                ASK_SECONDS, watch.stall_seconds - (now - watch.heard)))
        except (TimeoutError, asyncio.TimeoutError):
            if time.monotonic() - watch.heard >= watch.stall_seconds:
                end(client, watch, f"the Dask scheduler at {watch.address} has not answered "
                                   f"for {watch.stall_seconds:g} s")
                return
            continue
        except Exception:  # the scheduler is gone: the client cancels the tasks itself
            return
        watch.heard = now = time.monotonic()
        workers = {address: worker.get("last_seen") for address, worker in
                   answer.get("workers", {}).items()}
        empty = None if workers else empty or now
        if empty is not None and now - empty >= NO_WORKERS_SECONDS:
            end(client, watch, f"the Dask cluster at {watch.address} has had no workers for "
                               f"{NO_WORKERS_SECONDS} s")
            return
        heard = {address: heard[address] if address in heard and heard[address][0] == seen
                 else (seen, now) for address, seen in workers.items()
                 if seen is not None}  # an older scheduler may not say
        silent = [address for address, (_, at) in heard.items()
                  if now - at >= watch.stall_seconds]
        if silent and (len(silent) == len(workers)
                       or not remove_workers(client, silent, watch.stall_seconds)):
            which = ("its workers have" if len(silent) == len(workers) else  # or not removed
                     f"{len(silent)} of its {len(workers)} workers "
                     + ("has" if len(silent) == 1 else "have"))
            end(client, watch, f"the Dask cluster at {watch.address}: {which} sent no "
                               f"heartbeat for {watch.stall_seconds:g} s")
            return


def end(client, watch, said):
    """The study ended by its watch: why, and its tasks cancelled (on this side alone when
    the scheduler does not answer)."""
    if watch.stopped.is_set():
        return
    watch.said = said
    if said.startswith("the Dask scheduler"):
        cancel_here(client, "stalled")
    else:
        cancel_all(client)


def remove_workers(client, addresses, timeout):
    """The workers at addresses removed from the cluster by its scheduler, their tasks
    handed to others (a function defined here is sent to the scheduler whole: the
    scheduler has not the study's code); False if it has not within timeout seconds."""
    async def remove(dask_scheduler):
        for address in addresses:
            await dask_scheduler.remove_worker(address, stimulus_id="study-silent-worker")
    try:
        client.run_on_scheduler(remove, callback_timeout=timeout)
        return True
    except Exception:  # the scheduler runs no pickled code, does not answer, or is gone
        return False
