#!/usr/bin/env python3
"""sluice benchmark harness (run it through bench/run, which installs what it needs).

Runs, in one go and on the same generated streams:
  1. the DPDK receive ceiling: dpdk-testpmd --forward-mode=rxonly on a pcap (infinite_rx=1);
  2. sluiced on the same pcap: events/s and its ratio to (1);
  3. sluice-kbase (the same parse/aggregate/commit code behind recvmmsg) fed by
     sluice-gen --udp on loopback: the highest rate with < 0.1 % loss;
  4. etsy statsd (npm) and collectd's statsd plugin fed the same way, loss
     measured from what they output;
  5. the snapshot path: LMDB commit time per window and storage-thread CPU;
  6. the micro-benchmarks (sluice-microbench);
then writes docs/benchmarks.md and gnuplot PNGs. Ratios, not absolute times,
are the point: the machine is shared and noisy, every number in one report
comes from one run.
"""
import argparse
import datetime
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
B = os.path.join(ROOT, "build")
GEN = os.path.join(B, "bench", "sluice-gen")
SLUICED = os.path.join(B, "dataplane", "sluiced")
CTL = os.path.join(B, "control", "sluicectl")
KBASE = os.path.join(B, "bench", "sluice-kbase")
MICRO = os.path.join(B, "bench", "sluice-microbench")
STATSD = os.path.join(ROOT, "bench", ".peers", "node_modules", "statsd", "stats.js")
LOSS_MAX = 0.001


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cpu_times():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v


def machine_info():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"cpu": model, "cores": os.cpu_count(), "kernel": os.uname().release,
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)}


class Bench:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        # Not under a dot directory: collectd's csv plugin refuses such paths.
        import tempfile
        self.work = tempfile.mkdtemp(prefix="sluice-bench-")
        self.prefixes = []
        self.res = {"machine": machine_info(), "quick": self.quick, "scenarios": {},
                    "ladders": {}, "peers": {}, "snapshot": {}, "not_run": [], "micro": []}

    # ---- helpers -------------------------------------------------------

    def prefix(self, name):
        p = f"bench-{name}-{os.getpid()}"
        self.prefixes.append(p)
        return p

    def cleanup(self):
        for p in self.prefixes:
            shutil.rmtree(f"/var/run/dpdk/{p}", ignore_errors=True)
        if self.args.keep:
            log(f"work directory kept: {self.work}")
        else:
            shutil.rmtree(self.work, ignore_errors=True)

    def gen_pcap(self, name, events, lines, keys, extra=()):
        path = os.path.join(self.work, name + ".pcap")
        if not os.path.exists(path):
            run([GEN, "--format", "statsd", "--events", str(events), "--lines-per-datagram",
                 str(lines), "--keys", str(keys), "--pcap", path, "--quiet", *extra])
        return path

    @staticmethod
    def pcap_packets(path):
        # classic pcap: 24-byte header, 16-byte record headers
        n = 0
        with open(path, "rb") as f:
            f.seek(24)
            while True:
                h = f.read(16)
                if len(h) < 16:
                    break
                caplen = int.from_bytes(h[8:12], "little")
                f.seek(caplen, 1)
                n += 1
        return n

    def stats(self, sock):
        out = subprocess.run([CTL, "--json", "stats", "--socket", sock], capture_output=True,
                             text=True, timeout=10)
        if out.returncode != 0:
            return None
        return json.loads(out.stdout)

    # ---- 1. DPDK ceiling -----------------------------------------------

    def testpmd_pps(self, pcap, seconds, mbufs):
        cmd = ["dpdk-testpmd", "-l", "0-1", "--no-huge", "-m", "2048", "--no-pci",
               "--file-prefix", self.prefix("testpmd"),
               "--vdev", f"net_pcap0,rx_pcap={pcap},tx_pcap=/dev/null,infinite_rx=1", "--",
               "--forward-mode=rxonly", "--auto-start", "--stats-period", "1", "--nb-cores=1",
               f"--total-num-mbufs={mbufs}"]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        # Loading an infinite_rx pcap into memory takes a while: wait for the first sample.
        t0 = time.monotonic()
        while time.monotonic() - t0 < 60 and p.poll() is None:
            time.sleep(0.5)
            if os.path.exists(f"/var/run/dpdk/{self.prefixes[-1]}"):
                break
        time.sleep(seconds + 3)
        p.send_signal(signal.SIGINT)
        try:
            out, _ = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
        pps = [int(x) for x in re.findall(r"Rx-pps:\s+(\d+)", out)]
        samples = [x for x in pps if x > 0]
        samples = samples[1:] if len(samples) > 2 else samples  # skip the ramp-up sample
        if not samples:
            raise RuntimeError("testpmd gave no Rx-pps samples:\n" + out[-2000:])
        return statistics.median(samples)

    # ---- 2. sluiced on a pcap ------------------------------------------

    def events_pcap(self, name, fmt, events, per_dgram, config):
        """A JSON/binary capture of the retail events (views workload)."""
        path = os.path.join(self.work, name + ".pcap")
        if not os.path.exists(path):
            # One mbuf per frame: net_pcap's infinite_rx takes no chained mbufs.
            run([GEN, "--format", fmt, "--events", str(events), "--lines-per-datagram",
                 str(per_dgram), "--payload-max", "1870", "--config", config, "--pcap", path,
                 "--quiet"])
        return path

    def views_config(self, count_only):
        """The retail views by arrival time (an infinite_rx replay repeats its event
        times, which would make every later pass late), or one count-only view."""
        path = os.path.join(self.work, "views-%s.yaml" % ("count" if count_only else "retail"))
        text = subprocess.run([CTL, "config", "default"], capture_output=True, text=True,
                              check=True).stdout
        if count_only:
            head = text.split("\nviews:\n")[0]
            text = head + ("\nviews:\n  - name: events\n    group_by: [store]\n"
                           "    window: {size: 10s}\n    time: arrival\n    aggregates: [count]\n")
        else:
            text = re.sub(r"(?m)^ +(time|allowed_lateness|keep_late):.*\n", "", text)
            text = text.replace("    window: {size: 10s}", "    window: {size: 10s}\n    time: arrival")
        with open(path, "w") as f:
            f.write(text)
        return path

    def rules_config(self, n):
        """One count view by store (arrival time) and n rules on the raw JSON line:
        literal SKUs (count), and every tenth a tag with a character class."""
        path = os.path.join(self.work, f"rules-{n}.yaml")
        text = subprocess.run([CTL, "config", "default"], capture_output=True, text=True,
                              check=True).stdout
        head = text.split("\nviews:\n")[0]
        lines = [head,
                 "\nviews:\n  - name: events\n    group_by: [store]\n"
                 "    window: {size: 10s}\n    time: arrival\n    aggregates: [count]\n"]
        if n > 0:
            lines.append("rules:\n")
            for i in range(n):
                if i % 10 == 9:
                    lines.append(f"  - {{id: r{i}, pattern: '\"sku\":\"A-{i % 1000:03d}[0-9]', "
                                 f"on: raw, action: tag, tag: t{i % 50}}}\n")
                else:
                    lines.append(f"  - {{id: r{i}, pattern: '\"sku\":\"A-{i:04d}\"', on: raw, "
                                 "action: count}\n")
        text = "".join(lines)
        if n > 10000:
            text = text.replace("limits:\n", f"limits:\n  max_rules: {n}\n", 1)
        with open(path, "w") as f:
            f.write(text)
        return path

    def sluiced_rate(self, name, pcap, seconds, mbufs, max_groups, extra=()):
        d = os.path.join(self.work, "sluiced-" + name)
        os.makedirs(d, exist_ok=True)
        sock = os.path.join(d, "ctl.sock")
        mem = 1024 + (max_groups * 200 * 4 >> 20)
        cmd = [SLUICED, "-l", "0-1", "--no-huge", "-m", str(mem), "--no-pci",
               "--file-prefix", self.prefix("sluiced"),
               "--vdev", f"net_pcap0,rx_pcap={pcap},infinite_rx=1", "--",
               "--db", os.path.join(d, "db"), "--ctl-socket", sock, "--time", "wall",
               "--window", "10s", "--mbufs", str(mbufs), "--max-groups", str(max_groups),
               "--map-size", "8G", *extra]
        logf = open(os.path.join(d, "log"), "w")
        p = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT)
        try:
            s1 = None
            for _ in range(300):
                time.sleep(0.1)
                if p.poll() is not None:
                    raise RuntimeError(f"sluiced exited: see {d}/log")
                s1 = self.stats(sock)
                if s1 and s1["received"] > 0:
                    break
            time.sleep(2)  # warm up
            s1 = self.stats(sock)
            time.sleep(seconds)
            s2 = self.stats(sock)
        finally:
            p.send_signal(signal.SIGINT)
            try:
                p.wait(timeout=120)
            except subprocess.TimeoutExpired:
                p.kill()
        dt = (s2["uptime_ns"] - s1["uptime_ns"]) / 1e9
        ev = (s2["received"] - s1["received"]) / dt
        pk = (s2["packets"]["received"] - s1["packets"]["received"]) / dt
        drops = {k: v for k, v in s2["drops"].items() if v}
        paused = sum(c["rx_paused"] for c in s2["cores"])
        return {"events_per_s": ev, "packets_per_s": pk, "ns_per_event": 1e9 / ev if ev else None,
                "drops": drops, "rx_paused": paused,
                "identity_ok": s2["received"] == s2["aggregated"] + sum(s2["drops"].values())}

    def scenario(self, name, label, lines, keys, events, seconds, fmt="statsd", config=None):
        log(f"scenario {name}: {label}")
        if fmt == "statsd":
            pcap = self.gen_pcap(name, events, lines, keys)
        else:
            pcap = self.events_pcap(name, fmt, events, lines, config)
        pkts = self.pcap_packets(pcap)
        mbufs = pkts + 16384
        sc = {"label": label, "lines": lines, "keys": keys, "pcap_packets": pkts}
        try:
            sc["ceiling_pps"] = self.testpmd_pps(pcap, seconds, mbufs)
        except Exception as e:  # noqa: BLE001 - report, keep going
            self.res["not_run"].append(["dpdk-testpmd " + name, str(e)[:300]])
        try:
            sc["sluiced"] = self.sluiced_rate(name, pcap, seconds, mbufs,
                                              max(16384, int(keys * 1.1)),
                                              ("--config", config) if config else ())
        except Exception as e:  # noqa: BLE001
            self.res["not_run"].append(["sluiced " + name, str(e)[:300]])
        if "ceiling_pps" in sc and "sluiced" in sc:
            sc["ratio_vs_ceiling"] = sc["sluiced"]["packets_per_s"] / sc["ceiling_pps"]
        self.res["scenarios"][name] = sc
        return sc

    # ---- 3/4. kernel-path receivers fed over loopback ---------------------

    def send_udp(self, port, rate, events, lines, keys, style):
        """Send with sluice-gen --udp; return the rate it achieved (its own summary)."""
        t0 = time.monotonic()
        out = subprocess.run(["taskset", "-c", "0", GEN, "--format", "statsd", "--udp",
                              f"127.0.0.1:{port}", "--rate", str(rate), "--events", str(events),
                              "--lines-per-datagram", str(lines), "--keys", str(keys),
                              "--key-style", style], capture_output=True, text=True, check=True)
        m = re.search(r"\(([0-9.]+) events/s", out.stderr.strip().splitlines()[-1])
        return float(m.group(1)) if m else events / (time.monotonic() - t0)

    def point_kbase(self, rate, seconds, lines, keys):
        d = os.path.join(self.work, f"kbase-{rate}")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        port = free_port()
        sj = os.path.join(d, "stats.json")
        p = subprocess.Popen([KBASE, "--listen", f"127.0.0.1:{port}", "--db",
                              os.path.join(d, "db"), "--window", "1s", "--exit-when-idle", "1",
                              "--stats-json", sj, "--cpu", "1",
                              "--max-groups", str(max(16384, keys * 2))],
                             stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "log"), "w"))
        time.sleep(0.5)
        events = int(rate * seconds)
        sent_rate = self.send_udp(port, rate, events, lines, keys, "tag")
        p.wait(timeout=120)
        s = json.load(open(sj))
        return events, s["received"], sent_rate

    def point_statsd(self, rate, seconds, lines, keys):
        d = os.path.join(self.work, f"statsd-{rate}")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        port = free_port()
        out = os.path.join(d, "flushes.jsonl")
        backend = os.path.join(d, "count_backend.js")
        with open(backend, "w") as f:
            f.write("""const fs = require('fs');
exports.init = function (startup, config, events) {
  events.on('flush', function (ts, m) {
    let n = 0;
    for (const k in m.counters) if (k.startsWith('bench.')) n += m.counters[k];
    fs.appendFileSync(%s, JSON.stringify({ts: ts, n: n}) + '\\n');
  });
  return true;
};
""" % json.dumps(out))
        conf = os.path.join(d, "config.js")
        mgmt = free_port()
        with open(conf, "w") as f:
            f.write("{ port: %d, mgmt_port: %d, mgmt_address: '127.0.0.1', flushInterval: 500,"
                    " backends: [%s], deleteCounters: true }\n"
                    % (port, mgmt, json.dumps(backend)))
        p = subprocess.Popen(["taskset", "-c", "1", "node", STATSD, conf],
                             stdout=open(os.path.join(d, "log"), "w"), stderr=subprocess.STDOUT)
        # Ready when its management port answers (the UDP socket is bound before it).
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", mgmt), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(0.3)
        events = int(rate * seconds)
        sent_rate = self.send_udp(port, rate, events, lines, keys, "name")
        time.sleep(2.5)  # at least four flushes after the last datagram
        p.terminate()
        p.wait(timeout=30)
        got = 0
        if os.path.exists(out):
            for line in open(out):
                got += json.loads(line)["n"]
        return events, got, sent_rate

    def point_collectd(self, rate, seconds, lines, keys):
        d = os.path.join(self.work, f"collectd-{rate}")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        port = free_port()
        conf = os.path.join(d, "collectd.conf")
        with open(conf, "w") as f:
            f.write(f"""Hostname "bench"
FQDNLookup false
Interval 1
LoadPlugin statsd
LoadPlugin csv
<Plugin statsd>
  Host "127.0.0.1"
  Port "{port}"
  DeleteCounters false
</Plugin>
<Plugin csv>
  DataDir "{d}/csv"
  StoreRates false
</Plugin>
""")
        logp = os.path.join(d, "log")
        p = subprocess.Popen(["taskset", "-c", "1", "collectd", "-f", "-C", conf],
                             stdout=open(logp, "w"), stderr=subprocess.STDOUT)
        for _ in range(100):
            time.sleep(0.1)
            if "Listening" in open(logp).read():
                break
        events = int(rate * seconds)
        sent_rate = self.send_udp(port, rate, events, lines, keys, "name")
        time.sleep(3.5)  # collectd reads its statsd counters once per Interval (1 s)
        p.terminate()
        p.wait(timeout=30)
        got = 0
        base = os.path.join(d, "csv", "bench", "statsd")
        if os.path.isdir(base):
            for fn in os.listdir(base):
                if not fn.startswith("derive-bench."):
                    continue
                last = None
                for line in open(os.path.join(base, fn)):
                    if line[0].isdigit():
                        last = line
                if last:
                    got += int(float(last.split(",")[1]))
        return events, got, sent_rate

    def ladder(self, system, point, lines, keys, start_rate, max_rate, seconds):
        """Raise the offered rate until loss >= 0.1 % or the sender cannot keep up."""
        pts = []
        rate = start_rate
        best = None
        while rate <= max_rate:
            sent, got, sent_rate = point(rate, seconds, lines, keys)
            loss = 1 - got / sent if sent else 1
            pts.append({"offered": rate, "achieved_send": sent_rate, "sent": sent,
                        "received": got, "loss": loss})
            log(f"  {system}: offered {rate:,.0f} ev/s (sent at {sent_rate:,.0f}), "
                f"loss {loss * 100:.3f} %")
            if loss >= LOSS_MAX:
                break
            best = min(rate, sent_rate)
            if sent_rate < 0.9 * rate:
                break  # the sender is the bottleneck from here on
            rate *= 2
        sender_bound = bool(pts) and pts[-1]["loss"] < LOSS_MAX
        # Between the last good and the first bad rate: bisect (twice in a full run).
        if not sender_bound and best is not None:
            lo, hi = best, pts[-1]["offered"]
            for _ in range(1 if self.quick else 2):
                mid = int((lo + hi) / 2)
                sent, got, sent_rate = point(mid, seconds, lines, keys)
                loss = 1 - got / sent if sent else 1
                pts.append({"offered": mid, "achieved_send": sent_rate, "sent": sent,
                            "received": got, "loss": loss})
                log(f"  {system}: offered {mid:,.0f} ev/s (sent at {sent_rate:,.0f}), "
                    f"loss {loss * 100:.3f} %")
                if loss < LOSS_MAX:
                    lo = best = min(mid, sent_rate)
                else:
                    hi = mid
            pts.sort(key=lambda x: x["offered"])
        res = {"points": pts, "max_rate_lossless": best, "sender_bound": sender_bound}
        return res

    # ---- 5. snapshot path ---------------------------------------------------

    def snapshot(self, groups, windows, seconds_budget):
        log(f"snapshot: {groups:,} groups per 1 s window, {windows} windows")
        events = groups * 5 * windows
        name = f"snap{groups}"
        pcap = os.path.join(self.work, name + ".pcap")
        run([GEN, "--format", "statsd", "--events", str(events), "--lines-per-datagram", "20",
             "--keys", str(groups), "--rate", str(groups * 5), "--window", "1s",
             "--pcap", pcap, "--quiet"])
        d = os.path.join(self.work, "sluiced-" + name)
        os.makedirs(d, exist_ok=True)
        sock = os.path.join(d, "ctl.sock")
        mem = 1024 + (groups * 250 * 4 >> 20)
        cmd = [SLUICED, "-l", "0-1", "--no-huge", "-m", str(mem), "--no-pci",
               "--file-prefix", self.prefix("snap"),
               "--vdev", f"net_pcap0,rx_pcap={pcap}", "--",
               "--db", os.path.join(d, "db"), "--ctl-socket", sock, "--window", "1s",
               "--max-groups", str(int(groups * 1.1)), "--map-size", "16G",
               "--exit-when-idle", "2"]
        logf = open(os.path.join(d, "log"), "w")
        p = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT)
        last = None
        t0 = time.monotonic()
        while p.poll() is None and time.monotonic() - t0 < seconds_budget:
            s = self.stats(sock)
            if s:
                last = s
            time.sleep(0.2)
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
        p.wait(timeout=300)
        if last is None:
            raise RuntimeError("no stats from sluiced")
        st = last["storage"]
        hist = st["commit_us_log2"]
        n = sum(hist)

        def pct(q):
            acc = 0
            for i, c in enumerate(hist):
                acc += c
                if acc >= q * n:
                    return 2 ** (i + 1) / 1000.0  # upper bound of the bucket, ms
            return None
        return {"groups": groups, "windows_committed": st["windows_committed"],
                "records": st["records_written"], "commit_ms_p50_le": pct(0.5),
                "commit_ms_p99_le": pct(0.99), "storage_cpu_ms_per_window":
                st["busy_ns"] / 1e6 / max(1, st["windows_committed"]),
                "histogram_us_log2": hist}

    # ---- driver -------------------------------------------------------------

    def main(self):
        t_start = time.monotonic()
        cpu0 = cpu_times()
        q = self.quick
        secs = 3 if q else 6
        self.scenario("s1-10k", "statsd, 1 event/datagram, 10 k keys", 1, 10000, 200000, secs)
        self.scenario("s20-10k", "statsd, 20 events/datagram, 10 k keys", 20, 10000, 2000000, secs)
        if not q:
            self.scenario("s20-1m", "statsd, 20 events/datagram, 1 M keys", 20, 1000000,
                          4000000, secs)
        self.res["not_run"].append(["statsd 20 events/datagram, 10 M keys",
                                    "needs about 4 x 2.2 GB of per-core window tables plus the "
                                    "merge map; not attempted on this 24 GiB, 2-core machine"])
        # Binary events through views (by arrival time: the replay repeats its event times).
        self.scenario("b32-count", "binary, up to 32 events/datagram (1870 B), 1 count view "
                      "by store", 32, 20, 2000000, secs, fmt="binary",
                      config=self.views_config(True))
        if not q:
            self.scenario("b32-retail", "binary, up to 32 events/datagram (1870 B), the 3 "
                          "retail views", 32, 20, 2000000, secs, fmt="binary",
                          config=self.views_config(False))
        # Hyperscan rules on the raw JSON lines, one count view.
        for n in ((0, 10) if q else (0, 10, 1000, 10000)):
            self.scenario(f"j20-rules-{n}", f"JSON, 20 events/datagram, {n:,} rules", 20, 20,
                          1000000, secs, fmt="json", config=self.rules_config(n))

        # Kernel path and peers: the same stream, 10 k keys. 1 event per datagram for all;
        # the kernel baseline also at 20 events per datagram, where the sender is not the
        # limit.
        lsecs = 2 if q else 4
        for system, point, start, top, lines in (
                ("sluice-kbase", self.point_kbase, 100000, 6400000, 1),
                ("sluice-kbase (20 events/datagram)", self.point_kbase, 400000, 25600000, 20),
                ("etsy statsd", self.point_statsd, 5000, 3200000, 1),
                ("collectd statsd", self.point_collectd, 2500, 3200000, 1)):
            if system.startswith("sluice-kbase") and not os.path.exists(KBASE):
                self.res["not_run"].append([system, "not built"])
                continue
            if system == "etsy statsd" and (not os.path.exists(STATSD) or not shutil.which("node")):
                self.res["not_run"].append([system, "npm statsd or node not installed"])
                continue
            if system == "collectd statsd" and not shutil.which("collectd"):
                self.res["not_run"].append([system, "collectd-core not installed"])
                continue
            log(f"ladder {system}: {lines} event(s)/datagram, 10 k keys, over loopback")
            try:
                self.res["ladders"][system] = self.ladder(system, point, lines, 10000, start,
                                                          top, lsecs)
                self.res["ladders"][system]["lines"] = lines
            except Exception as e:  # noqa: BLE001
                self.res["not_run"].append([system, str(e)[:300]])

        try:
            self.res["snapshot"]["100k"] = self.snapshot(100000, 4 if q else 8, 240)
            if not q:
                self.res["snapshot"]["1m"] = self.snapshot(1000000, 3, 600)
        except Exception as e:  # noqa: BLE001
            self.res["not_run"].append(["snapshot path", str(e)[:300]])

        if os.path.exists(MICRO):
            log("micro-benchmarks")
            out = subprocess.run([MICRO, "--json"] + (["--quick"] if q else []),
                                 capture_output=True, text=True, check=True)
            self.res["micro"] = json.loads(out.stdout)
        else:
            self.res["not_run"].append(["micro-benchmarks", "sluice-microbench not built"])

        cpu1 = cpu_times()
        total = sum(cpu1) - sum(cpu0)
        self.res["machine"]["steal_pct"] = 100.0 * (cpu1[7] - cpu0[7]) / total if total else 0
        self.res["duration_s"] = time.monotonic() - t_start
        self.res["date"] = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC")
        self.res["command"] = "bench/run" + (" --quick" if q else "")
        with open(os.path.join(ROOT, "bench", "results.json"), "w") as f:
            json.dump(self.res, f, indent=1)
        report(self.res, self.args.out)


def fmt_rate(x):
    if x is None:
        return "-"
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    if x >= 1e3:
        return f"{x / 1e3:.0f} k"
    return f"{x:.0f}"


def plot(res, docs):
    if not shutil.which("gnuplot"):
        return []
    made = []
    dat = os.path.join(ROOT, "bench", ".plot-scen.dat")
    rows = []
    for name, sc in res["scenarios"].items():
        c = sc.get("ceiling_pps")
        s = sc.get("sluiced", {}).get("packets_per_s")
        e = sc.get("sluiced", {}).get("events_per_s")
        rows.append(f'"{name}" {c or 0} {s or 0} {e or 0}')
    if rows:
        with open(dat, "w") as f:
            f.write("\n".join(rows) + "\n")
        png = os.path.join(docs, "bench-scenarios.png")
        subprocess.run(["gnuplot"], input=f"""
set terminal pngcairo size 900,480 noenhanced
set output '{png}'
set title 'sluiced vs the DPDK receive ceiling (same pcap, 1 worker core)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel 'millions per second'
set key top right
set grid ytics
plot '{dat}' using ($2/1e6):xtic(1) title 'testpmd rxonly (packets/s)', \\
     '' using ($3/1e6) title 'sluiced (packets/s)', \\
     '' using ($4/1e6) title 'sluiced (events/s)'
""", text=True, check=False)
        made.append("bench-scenarios.png")
        os.unlink(dat)
    if res["ladders"]:
        cmds, files = [], []
        for i, (system, lad) in enumerate(res["ladders"].items()):
            dat = os.path.join(ROOT, "bench", f".plot-l{i}.dat")
            with open(dat, "w") as f:
                for p in lad["points"]:
                    f.write(f"{p['offered']} {max(p['loss'] * 100, 0.0001)}\n")
            files.append(dat)
            cmds.append(f"'{dat}' using ($1/1e3):2 with linespoints title '{system}'")
        png = os.path.join(docs, "bench-loss.png")
        subprocess.run(["gnuplot"], input=f"""
set terminal pngcairo size 900,480 noenhanced
set output '{png}'
set title 'loss vs offered rate over loopback (10 k keys; 1 event/datagram unless noted)'
set logscale xy
set xlabel 'offered rate, thousand events/s'
set ylabel 'loss, % (0.0001 = none)'
set grid
set key top left
plot {", ".join(cmds)}, 0.1 with lines dashtype 2 title '0.1 % budget'
""", text=True, check=False)
        for f in files:
            os.unlink(f)
        made.append("bench-loss.png")
    return made


def report(res, out):
    docs = os.path.dirname(out)
    plots = plot(res, docs)
    m = res["machine"]
    L = []
    L.append("# sluice benchmarks\n")
    L.append("Generated by `" + res["command"] + "` on " + res["date"] +
             f" in {res['duration_s'] / 60:.1f} minutes. Every number on this page comes from "
             "that one run; rerun the command to regenerate the page and its plots. The machine "
             "is shared and noisy, so read the ratios, not the absolute rates.\n")
    L.append(f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, kernel "
             f"{m['kernel']}, CPU steal during the run {m['steal_pct']:.1f} %. DPDK runs with "
             "`--no-huge` (no hugepages), one worker lcore; the main lcore shares the other CPU "
             "with the storage thread.\n")
    L.append("## Ratios\n")
    L.append("| comparison | measured | target |")
    L.append("|---|---|---|")
    sc = res["scenarios"]
    if "s1-10k" in sc and "ratio_vs_ceiling" in sc["s1-10k"]:
        L.append(f"| sluiced / testpmd rxonly, statsd 1 event/datagram, 10 k keys (packets/s) | "
                 f"{sc['s1-10k']['ratio_vs_ceiling']:.2f}x | >= 0.5x |")
    if "s20-10k" in sc and "ratio_vs_ceiling" in sc["s20-10k"]:
        L.append(f"| sluiced / testpmd rxonly, statsd 20 events/datagram, 10 k keys (packets/s) | "
                 f"{sc['s20-10k']['ratio_vs_ceiling']:.2f}x | |")
    if "s20-1m" in sc and "s20-10k" in sc and "sluiced" in sc["s20-1m"] and "sluiced" in sc["s20-10k"]:
        r = sc["s20-1m"]["sluiced"]["events_per_s"] / sc["s20-10k"]["sluiced"]["events_per_s"]
        L.append(f"| sluiced 1 M keys / 10 k keys (events/s, 20 events/datagram) | {r:.2f}x | >= 0.5x |")
    r0 = sc.get("j20-rules-0", {}).get("sluiced", {}).get("events_per_s")
    for n in (10, 1000, 10000):
        rn = sc.get(f"j20-rules-{n}", {}).get("sluiced", {}).get("events_per_s")
        if r0 and rn:
            L.append(f"| sluiced with {n:,} Hyperscan rules / without (JSON, 20 events/datagram, "
                     f"events/s) | {rn / r0:.2f}x ({1e9 / rn - 1e9 / r0:.0f} ns/event more) | "
                     f"{'>= 0.6x' if n == 10 else ''} |")
    for name in ("b32-count", "b32-retail"):
        sl = sc.get(name, {}).get("sluiced", {})
        if sl.get("events_per_s"):
            L.append(f"| sluiced events/s per worker core, {sc[name]['label']} | "
                     f"{fmt_rate(sl['events_per_s'])} ({sc[name].get('ratio_vs_ceiling', 0):.2f}x "
                     f"the testpmd ceiling in packets/s) | >= 30 M |")
    lad = res["ladders"]
    for system, target in (("sluice-kbase", ">= 5x"),
                           ("sluice-kbase (20 events/datagram)", ">= 5x"),
                           ("etsy statsd", ">= 100x"), ("collectd statsd", ">= 20x")):
        scen = "s20-10k" if "20 events" in system else "s1-10k"
        s1 = sc.get(scen, {}).get("sluiced", {}).get("events_per_s")
        if system in lad and s1:
            best = lad[system]["max_rate_lossless"]
            if best:
                note = " (the sender was the limit: a lower bound of the receiver)" \
                    if lad[system]["sender_bound"] else ""
                L.append(f"| sluiced ({scen}, pcap) / {system} max lossless rate (loopback){note} | "
                         f"{s1 / best:.1f}x | {target} |")
            else:
                L.append(f"| sluiced / {system} | {system} lost more than 0.1 % at the lowest "
                         f"rate tried | {target} |")
    for k, snap in res["snapshot"].items():
        L.append(f"| LMDB commit per window, {snap['groups']:,} groups: p50 / p99 | "
                 f"<= {snap['commit_ms_p50_le']:.1f} ms / <= {snap['commit_ms_p99_le']:.1f} ms "
                 f"(log2 buckets) | p99 <= 20 ms at 100 k |")
        L.append(f"| storage thread CPU per window, {snap['groups']:,} groups, i.e. busy share "
                 f"at 1 window/s | {snap['storage_cpu_ms_per_window']:.0f} ms = "
                 f"{snap['storage_cpu_ms_per_window'] / 10:.1f} % | <= 5 % |")
    L.append("")
    L.append("## Scenarios: sluiced vs the DPDK receive ceiling (same pcap, `infinite_rx=1`)\n")
    L.append("sluiced runs with `--time wall --window 10s` (the default window) and is measured "
             "over the interval after a warm-up; testpmd forwards nothing (rxonly).\n")
    L.append("| scenario | pcap packets | testpmd rxonly packets/s | sluiced packets/s | "
             "sluiced events/s | ns/event | ratio | drops |")
    L.append("|---|---|---|---|---|---|---|---|")
    for name, s in sc.items():
        sl = s.get("sluiced", {})
        L.append(f"| {s['label']} | {s['pcap_packets']:,} | {fmt_rate(s.get('ceiling_pps'))} | "
                 f"{fmt_rate(sl.get('packets_per_s'))} | {fmt_rate(sl.get('events_per_s'))} | "
                 f"{sl.get('ns_per_event', 0) or 0:.0f} | "
                 f"{s.get('ratio_vs_ceiling', 0):.2f}x | {sl.get('drops') or 'none'} |")
    if "bench-scenarios.png" in plots:
        L.append("\n![scenarios](bench-scenarios.png)\n")
    L.append("## Kernel path and peers over loopback\n")
    L.append("`sluice-gen --udp 127.0.0.1:PORT --rate R` (pinned to CPU 0) sends the same "
             "stream (10 k keys; the peers get the key in the metric name because they do not "
             "read DogStatsD tags) to each receiver pinned to CPU 1; loss is what the "
             "receiver's output (its LMDB windows, statsd's flushed counters, collectd's CSV "
             "values) is missing against what was sent. The offered rate doubles until loss "
             "reaches 0.1 % or the sender cannot keep up (then the receiver's figure is a lower "
             "bound: one sending core with the kernel's loopback work tops out around 300 k "
             "datagrams/s here).\n")
    L.append("| receiver | highest rate with < 0.1 % loss | points (offered -> loss) |")
    L.append("|---|---|---|")
    for system, ld in lad.items():
        pts = ", ".join(f"{fmt_rate(p['offered'])} -> {p['loss'] * 100:.2f} %" for p in ld["points"])
        best = fmt_rate(ld["max_rate_lossless"]) + " events/s" if ld["max_rate_lossless"] else "none"
        if ld["sender_bound"]:
            best += " (sender-bound)"
        L.append(f"| {system} | {best} | {pts} |")
    if "bench-loss.png" in plots:
        L.append("\n![loss](bench-loss.png)\n")
    if res["snapshot"]:
        L.append("## Snapshot path\n")
        L.append("sluiced replays a capture with 1 s windows, each holding the given number of "
                 "groups; the storage thread merges the partials and commits each window in one "
                 "LMDB write transaction (synced). Commit times come from sluiced's log2 "
                 "histogram, so they are upper bounds of a bucket.\n")
        L.append("| groups per window | windows | records | commit p50 | commit p99 | "
                 "storage CPU per window |")
        L.append("|---|---|---|---|---|---|")
        for snap in res["snapshot"].values():
            L.append(f"| {snap['groups']:,} | {snap['windows_committed']} | {snap['records']:,} | "
                     f"<= {snap['commit_ms_p50_le']:.1f} ms | <= {snap['commit_ms_p99_le']:.1f} ms"
                     f" | {snap['storage_cpu_ms_per_window']:.0f} ms |")
        L.append("")
    if res["micro"]:
        L.append("## Micro-benchmarks (`build/bench/sluice-microbench`)\n")
        L.append("| benchmark | ns/op |")
        L.append("|---|---|")
        for b in res["micro"]:
            L.append(f"| {b['name']} | {b['ns_per_op']:.1f} |")
        L.append("")
    L.append("## Where the time goes, and what would close the gaps\n")
    L.append("Profiles taken with `perf record` on the same scenarios (not part of this run's "
             "numbers):\n")
    L.append("- **sluiced vs the receive ceiling.** The worker spends its time in "
             "`sl_agg_table_update` (probe of the open-addressing table and the key compare), "
             "the key hash, `sl_statsd_parse_line` and tag splitting, the canonical key build "
             "(copy + insertion sort of tags), and in the `net_pcap` PMD itself. testpmd rxonly "
             "only touches the mbuf. To close the gap: hash while parsing instead of building "
             "the key first (build it only for a new group), keep a tag-order fingerprint so "
             "already-sorted tags skip the sort, store a hash tag in the slot array so a probe "
             "does not touch the group record, and prefetch the key bytes as well as the slot "
             "and the group (the worker already applies events in prefetched batches of 64).")
    L.append("- **1 M keys.** The per-core table no longer fits in the caches: each event "
             "costs a cache miss on the slot, the group and the key bytes "
             "(`agg_table_update_1M_keys` vs `_10k_keys` in the micro-benchmarks, which update "
             "one event at a time); the worker's batches of 64 hide part of it.")
    L.append("- **Snapshot path.** The storage thread merges every partial into a per-window "
             "hash map (one allocation per new key), serializes every group, sorts the "
             "records by key and appends them to LMDB in one synced transaction. With 100 k "
             "groups the merge, the sort (long common key prefixes make every comparison "
             "expensive) and the B-tree writes dominate. To reach a 20 ms p99: merge into "
             "preallocated arenas, sort by a precomputed key prefix, and with one worker "
             "skip the merge map entirely (the worker's table is already the window).")
    L.append("- **Binary events through views (30 M events/s target, missed).** A `perf` "
             "profile of the count-view scenario: parsing ~25 % (`sl_bin_next_event`, UTF-8 "
             "validation of every string in `dec_str`, `dec_micro`), the view table ~35 % "
             "(the group key built by `plan_key`, `sl_hash64` over it, the probe's `memcmp`, "
             "`sl_view_table_update`), `sl_vwin_event` ~15 % (where-check, slice lookup), "
             "the rest the PMD and the copy of the event (profile taken before the where-check "
             "was made once per view and the slice starts were kept beside their slots). "
             "What would close it: remember the last group per view and core (a datagram of "
             "sluice-gen, like a real producer's batch, mostly repeats one store), hash the "
             "dimension bytes while building the key, batch and prefetch view updates as "
             "the statsd path does, and validate UTF-8 only for strings a view reads. The "
             "three retail views cost ~2.4x the one count view: three where-checks per event, "
             "a DDSketch and a 10-item Space-Saving update per purchase, a distinct set per "
             "visit.")
    L.append("- **Hyperscan rules.** With rules the worker scans every JSON line once per "
             "target database (`hs_scan` in block mode with the worker's scratch); the cost "
             "is mostly fixed per scan, not per rule: 10, 1,000 and 10,000 rules cost "
             "within ~50 ns/event of each other (about the spread between two runs on "
             "this shared machine). Closing the rest: one streaming or "
             "vectored scan per datagram instead of one call per line, and skipping the "
             "scan for events no view or drop rule needs.")
    L.append("- **The kernel baseline and the peers** are limited by the single sending "
             "core for 1-event datagrams: their figure is a lower bound when marked "
             "sender-bound.")
    L.append("")
    L.append("## Not run\n")
    if res["not_run"]:
        for what, why in res["not_run"]:
            L.append(f"- {what}: {why}")
    else:
        L.append("- nothing")
    L.append("")
    L.append("Raw results of this run: `bench/results.json`.")
    with open(out, "w") as f:
        f.write("\n".join(L) + "\n")
    log(f"wrote {out}" + (" and " + ", ".join(plots) if plots else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short runs, fewer scenarios (~3 min)")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    ap.add_argument("--keep", action="store_true", help="keep the work directory (printed)")
    ap.add_argument("--report-only", action="store_true",
                    help="rewrite the report and plots from bench/results.json, run nothing")
    args = ap.parse_args()
    if args.report_only:
        report(json.load(open(os.path.join(ROOT, "bench", "results.json"))), args.out)
        return 0
    if os.geteuid() != 0:
        print("bench: run as root (DPDK, pinning)", file=sys.stderr)
        return 1
    b = Bench(args)
    try:
        b.main()
    finally:
        b.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
