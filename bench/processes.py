"""Memory and CPU of process trees, read from /proc (Linux), for the bench's memory figures.

RSS counts pages shared between a pre-forking master and its workers once per process, so
sums of RSS overstate a tree; PSS splits shared pages between their users and adds up honestly.
Both are reported.
"""

import json
import os
import sys
import threading
import time

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    # The command name sits in parentheses and may contain spaces: split after the last ")".
    return text[text.rindex(")") + 2 :].split()


def descendants(root: int) -> list[int]:
    """`root` and every process below it that is alive now."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            parent = int(_stat_fields(int(entry))[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry))
    tree, to_visit = [], [root]
    while to_visit:
        pid = to_visit.pop()
        if os.path.exists(f"/proc/{pid}"):
            tree.append(pid)
            to_visit.extend(children.get(pid, []))
    return tree


def _kilobytes(path: str, field: str) -> int:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_bytes(pid: int) -> int:
    return _kilobytes(f"/proc/{pid}/status", "VmRSS:") * 1024


def pss_bytes(pid: int) -> int:
    return _kilobytes(f"/proc/{pid}/smaps_rollup", "Pss:") * 1024


def tree_memory(root: int) -> dict:
    pids = descendants(root)
    return {
        "rss": sum(rss_bytes(p) for p in pids),
        "pss": sum(pss_bytes(p) for p in pids),
        "processes": len(pids),
    }


def cpu_seconds(pids: list[int]) -> float:
    """CPU used by `pids` and by their children that have exited (those count in their parent)."""
    total = 0
    for pid in pids:
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        total += sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    return total / CLOCK_TICKS


def tree_cpu_seconds(root: int) -> float:
    return cpu_seconds(descendants(root))


def postgres_root() -> int | None:
    """The postmaster: a `postgres` process whose parent is not one."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as f:
                if f.read().strip() != "postgres":
                    continue
            with open(f"/proc/{_stat_fields(int(entry))[1]}/comm") as f:
                if f.read().strip() != "postgres":
                    return int(entry)
        except (OSError, ValueError):
            continue
    return None


def _all_cores_jiffies() -> list[int]:
    """user, nice, system, idle, iowait, irq, softirq, steal … of all cores since boot."""
    with open("/proc/stat") as f:
        return [int(v) for v in f.readline().split()[1:]]


def own_cpu_seconds() -> float:
    """CPU used so far by this process, all its threads (the load generator's own cost)."""
    times = os.times()
    return times.user + times.system


class MachineLoad:
    """How busy the machine was while the block ran, and how much of that was other work.

    `measured` are the process trees under test (servers, PostgreSQL) and this process; the
    rest of the machine's busy CPU is other work sharing the cores (other developers' tests),
    reported in cores. Steal is time the hypervisor gave to other guests, which no process here
    sees. The 1-minute load average is read as the block starts.
    """

    def __init__(self, measured: list[int]):
        self.measured = measured

    def _measured_cpu(self) -> float:
        return cpu_seconds([p for root in self.measured for p in descendants(root)])

    def __enter__(self) -> "MachineLoad":
        with open("/proc/loadavg") as f:
            self.load_average = float(f.read().split()[0])
        self._jiffies = _all_cores_jiffies()
        self._measured_before = self._measured_cpu() + own_cpu_seconds()
        self._started = time.monotonic()
        return self

    def __exit__(self, *exc) -> None:
        seconds = time.monotonic() - self._started
        after = _all_cores_jiffies()
        delta = [a - b for a, b in zip(after, self._jiffies, strict=True)]
        idle = delta[3] + delta[4]  # idle + iowait
        busy = (sum(delta) - idle - delta[7]) / CLOCK_TICKS
        measured = self._measured_cpu() + own_cpu_seconds() - self._measured_before
        self.summary = {
            "load_average": self.load_average,
            "busy_cores": round(busy / seconds, 2),
            "other_cores": round(max(busy - measured, 0.0) / seconds, 2),
            "cpu_steal": round(delta[7] / max(sum(delta), 1), 3),
        }


def wait_until_idle(roots: list[int], *, settle: float = 3.0, timeout: float = 60.0) -> float:
    """Wait until the trees use under 2% of a core for `settle` seconds; the seconds waited."""
    started = time.monotonic()
    quiet_since = None
    pids = [p for root in roots for p in descendants(root)]
    before = cpu_seconds(pids)
    while time.monotonic() - started < timeout:
        time.sleep(0.5)
        pids = [p for root in roots for p in descendants(root)]
        now = cpu_seconds(pids)
        if now - before < 0.01:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= settle:
                break
        else:
            quiet_since = None
        before = now
    return time.monotonic() - started


class PeakMemory:
    """Samples a tree's memory every 50 ms in a thread: the peak of its largest process and sum."""

    def __init__(self, root: int, interval: float = 0.05):
        self.root = root
        self.interval = interval
        self.peak_process_rss = 0
        self.peak_tree_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        pids, listed_at = descendants(self.root), time.monotonic()
        while not self._stop.is_set():
            if time.monotonic() - listed_at > 1:
                pids, listed_at = descendants(self.root), time.monotonic()
            sizes = [rss_bytes(p) for p in pids]
            self.peak_process_rss = max(self.peak_process_rss, max(sizes, default=0))
            self.peak_tree_rss = max(self.peak_tree_rss, sum(sizes))
            self._stop.wait(self.interval)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def idle_memory(named_roots: dict[str, int]) -> dict:
    waited = wait_until_idle(list(named_roots.values()))
    trees = {name: tree_memory(pid) for name, pid in named_roots.items()}
    return {
        "waited_seconds": round(waited, 1),
        "trees": trees,
        "rss": sum(t["rss"] for t in trees.values()),
        "pss": sum(t["pss"] for t in trees.values()),
    }


if __name__ == "__main__":
    # processes.py idle OUT.json name=pid [name=pid …]
    if len(sys.argv) < 4 or sys.argv[1] != "idle":
        sys.exit(f"usage: {sys.argv[0]} idle OUT.json name=pid …")
    roots = {name: int(pid) for name, pid in (arg.split("=", 1) for arg in sys.argv[3:])}
    with open(sys.argv[2], "w") as out:
        json.dump(idle_memory(roots), out, indent=2)
