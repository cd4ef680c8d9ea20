#!/usr/bin/env python3
"""make bench: the whole system measured side by side with the original design, in one run.

Runs on its own local stack (RUN_DIR=.run/bench, wiped first; the same ports as `make run`, so stop
that first). Workloads (issue 5; bench/README.md explains each):
  W3 get_task through nginx vs a static file and a minimal C responder · W4 create_task through nginx
  W2 a busy site: ours (defaults, and with events) vs the original design and the SDK's wait loop,
     and the sweep's budget trade-off · W6 how the cost grows with the tasks in flight
  W5 Poller RSS with 100,000 tasks in flight
Writes bench/results/summary.json, REPORT.md and PNG plots. Figures are ratios measured in the same run.
"""
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, "bench", "results")
RUN_DIR = os.path.join(REPO, ".run", "bench")
NGINX = "http://127.0.0.1:8080"
BASELINE_NGINX = "http://127.0.0.1:8082"
DEVSERVER = "http://127.0.0.1:8089"
POLLER_METRICS = "http://127.0.0.1:9400"
# W2 runs k times faster than real time (every duration, interval and rate scaled), so that both
# systems fit in the 25-minute budget; its delays are reported in real-time seconds (× k).
TIME_SCALE = float(os.environ.get("BENCH_TIME_SCALE", "4"))
QUICK = os.environ.get("BENCH_QUICK") == "1"  # a smoke run of the harness itself
ONLY = set(filter(None, os.environ.get("BENCH_ONLY", "").split(",")))  # e.g. w2 (development of the harness)

ENV = dict(os.environ, RUN_DIR=RUN_DIR, BUILD_CONFIGURATION="release")  # measure what ships: optimised binaries
LOG = []


def say(text):
    line = f"[bench {time.strftime('%H:%M:%S')}] {text}"
    print(line, flush=True)
    LOG.append(line)


def sh(*args, env=None, check=True, capture=True, timeout=None):
    result = subprocess.run(args, cwd=REPO, env=env or ENV, text=True, timeout=timeout,
                            stdout=subprocess.PIPE if capture else None, stderr=subprocess.PIPE if capture else None)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}): {result.stderr or ''}{result.stdout or ''}")
    return result.stdout if capture else ""


def http(method, url, body=None, headers=None, timeout=30):
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers=dict({"Content-Type": "application/json"} if body is not None else {}, **(headers or {})))
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def sim(**settings):
    return http("POST", DEVSERVER + "/_sim/config", settings)


def sim_stats():
    return http("GET", DEVSERVER + "/_sim/stats")


def sql(statement):
    env = {k: v for k, v in ENV.items() if k != "MYSQL_HOST"}
    result = subprocess.run(["mariadb", "--protocol=socket", f"--socket={RUN_DIR}/mariadb.sock", "-uroot", "-N", "image_host"],
                            input=statement, cwd=REPO, env=env, text=True, capture_output=True)
    if result.returncode != 0:
        raise RuntimeError(f"SQL failed: {result.stderr.strip()}: {statement[:200]}")
    return result.stdout.strip()


def pid(component):
    with open(os.path.join(RUN_DIR, f"{component}.pid")) as f:
        return int(f.read().strip())


def cpu_seconds(process_id):
    with open(f"/proc/{process_id}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(process_id):
    with open(f"/proc/{process_id}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def wait_until(what, timeout, condition, every=0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


def stack_up(extra_env=None):
    env = dict(ENV, **(extra_env or {}))
    sh("scripts/stack.sh", "up", env=env, capture=False)
    global STACK_ENV
    STACK_ENV = env


def stack_down():
    sh("scripts/stack.sh", "down", check=False, capture=False)


def stop_component(name):
    sh("scripts/stack.sh", "stop", name, env=STACK_ENV, capture=False)


def stop_processes(*processes):
    """SIGTERM, then up to 20 s each for a graceful stop, then SIGKILL."""
    for p in processes:
        p.send_signal(signal.SIGTERM)
    for p in processes:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()


def bin_path():
    return sh("swift", "build", "-c", "release", "--show-bin-path").strip()


def close_open_tasks():
    """Ends every open task (a workload's leftovers must not load the next one)."""
    sql("UPDATE out_painting_task SET taskStatus = 'CANCELED' WHERE taskStatus NOT IN ('SUCCEEDED','FAILED','CANCELED','UNKNOWN')")


def metrics_sum(url, name, labels=""):
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and (not labels or labels in line):
            rest = line[len(name):]
            if rest.startswith("{") or rest.startswith(" "):
                total += float(line.rsplit(" ", 1)[1])
    return total


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


# MARK: - wrk

def wrk(url, connections, seconds, script=None, env=None):
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if script:
        args += ["-s", script]
    out = sh(*(args + [url]), env=dict(ENV, **(env or {})))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    extra = {}
    for line in out.splitlines():
        if line.startswith("BENCH "):
            extra = json.loads(line[6:])
    return {"rps": rps, "p99_ms": p99_ms, "raw": out, **extra}


def w3_get_task():
    say("W3: get_task through nginx vs a static file of the same JSON and a minimal C responder on libfcgi")
    cookie = "SESSION=dev-user-1"
    created = http("POST", NGINX + "/api/picture/out_painting/create_task", {"pictureId": 1}, {"Cookie": cookie})
    task = created["data"]["output"]["taskId"]
    url = f"{NGINX}/api/picture/out_painting/get_task?taskId={task}"
    answer = wait_until("the W3 task to finish", 60, lambda: (lambda a: a if a["data"]["output"]["taskStatus"] == "SUCCEEDED" else None)(
        http("GET", url, headers={"Cookie": cookie})))
    static_path = os.path.join(REPO, "web", "bench-static.json")
    with open(static_path, "w") as f:
        json.dump(answer, f, ensure_ascii=False, separators=(",", ":"))
    # The ceiling for anything behind FastCGI: the same bytes from a minimal libfcgi responder in C
    # (64 threads), behind the same nginx snippet (the bench's third server, upstream baseline.sock).
    c_binary = os.path.join(RUN_DIR, "minimal-responder")
    sh("gcc", "-O2", "-o", c_binary, os.path.join(REPO, "bench", "c-responder", "minimal_responder.c"), "-lfcgi", "-lpthread")
    c_socket = os.path.join(RUN_DIR, "baseline.sock")
    c_responder = subprocess.Popen([c_binary, c_socket, static_path, "64"], cwd=REPO,
                                   stdout=open(os.path.join(RUN_DIR, "log", "minimal-responder.log"), "w"), stderr=subprocess.STDOUT)
    c_url = f"{BASELINE_NGINX}/api/picture/out_painting/get_task?taskId={task}"
    seconds = 5 if QUICK else 10
    try:
        wait_until("the minimal C responder", 10, lambda: os.path.exists(c_socket))
        # Warm-up (not counted): the stack has just started. Then the three alternate twice, so
        # none of them gets the calmer part of the run.
        wrk(url, 64, 2 if QUICK else 15, script=os.path.join(REPO, "bench", "cookie.lua"), env={"COOKIE": cookie})
        before = metrics_sum(NGINX + "/outpainting/metrics", "outpainting_responder_latency_seconds_sum", 'endpoint="get_task"')
        count_before = metrics_sum(NGINX + "/outpainting/metrics", "outpainting_responder_latency_seconds_count", 'endpoint="get_task"')
        ours_runs, static_runs, c_runs = [], [], []
        for _ in range(2):
            ours_runs.append(wrk(url, 64, seconds, script=os.path.join(REPO, "bench", "cookie.lua"), env={"COOKIE": cookie}))
            static_runs.append(wrk(NGINX + "/bench-static.json", 64, seconds))
            c_runs.append(wrk(c_url, 64, seconds))
        after = metrics_sum(NGINX + "/outpainting/metrics", "outpainting_responder_latency_seconds_sum", 'endpoint="get_task"')
        count_after = metrics_sum(NGINX + "/outpainting/metrics", "outpainting_responder_latency_seconds_count", 'endpoint="get_task"')
    finally:
        os.remove(static_path)
        c_responder.kill()  # libfcgi catches SIGTERM (it only marks a shutdown for the next accept)
        c_responder.wait(timeout=10)
        if os.path.exists(c_socket):
            os.remove(c_socket)
    # Requests/s: the mean of the two runs; p99: the worse of the two.
    def side(runs):
        return {"rps": sum(r["rps"] for r in runs) / len(runs), "p99_ms": max(r["p99_ms"] for r in runs)}
    ours, static, c = side(ours_runs), side(static_runs), side(c_runs)
    handler_ms = (after - before) / max(count_after - count_before, 1) * 1000
    say(f"W3: get_task {ours['rps']:.0f}/s p99 {ours['p99_ms']:.2f} ms; static {static['rps']:.0f}/s; minimal C {c['rps']:.0f}/s "
        f"p99 {c['p99_ms']:.2f} ms; time inside the handler {handler_ms:.3f} ms of {1000 * 64 / ours['rps']:.2f} ms per request at 64 connections")
    return {"rps": ours["rps"], "p99_ms": ours["p99_ms"], "static_rps": static["rps"], "static_p99_ms": static["p99_ms"],
            "c_rps": c["rps"], "c_p99_ms": c["p99_ms"],
            "ratio": ours["rps"] / static["rps"], "ratio_to_c": ours["rps"] / c["rps"], "p99_to_c": ours["p99_ms"] / c["p99_ms"],
            "handler_mean_ms": handler_ms, "mean_latency_ms_at_64": 1000 * 64 / ours["rps"],
            "runs": {name: [{k: r[k] for k in ("rps", "p99_ms")} for r in runs]
                     for name, runs in (("ours", ours_runs), ("static", static_runs), ("minimal_c", c_runs))}}


def w4_create_task():
    say("W4: create_task through nginx (DevServer latency 0, no quota)")
    sim(latency_ms=0, create_qps_limit=0, query_qps_limit=0, max_running=0)
    pictures = 2000
    sql("INSERT IGNORE INTO user (id, userAccount, userRole) VALUES (700000000, 'bench-w4', 'user')")
    rows = ",".join(f"({700000000 + i}, '{DEVSERVER}/images/w4.png?sim_duration_ms=1000', 'w4', 700000000)" for i in range(1, pictures + 1))
    sql(f"INSERT IGNORE INTO picture (id, url, name, userId) VALUES {rows}")
    seconds = 5 if QUICK else 20
    # 12 connections = the default create slots (¾ of 16 workers): more would be answered "busy" at once.
    result = wrk(NGINX + "/api/picture/out_painting/create_task", 12, seconds, script=os.path.join(REPO, "bench", "create.lua"),
                 env={"COOKIE": "SESSION=dev-user-700000000", "FIRST_PICTURE": "700000001", "PICTURES": str(pictures)})
    ok = result.get("codes", {}).get("0", 0)
    say(f"W4: create_task {result['rps']:.0f}/s answered, {ok / seconds:.0f}/s created, p99 {result['p99_ms']:.2f} ms, codes {result.get('codes')}")
    return {"rps": result["rps"], "created_per_s": ok / seconds, "p99_ms": result["p99_ms"], "codes": result.get("codes", {}),
            "connections": 12}


# MARK: - helpers for W2 and W6

def set_submission_pace(per_second):
    """The account's submission pace for every FcgiApp: its row is authoritative (0 = none)."""
    h = 0xcbf29ce484222325
    for b in ENV.get("DASHSCOPE_API_KEY", "sk-local-dev").encode():
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    sql(f"INSERT INTO outpainting_submission_pace (paceKey, submissionsPerSecond, nextSlotAt) "
        f"VALUES ('fnv1a64:{h:016x}', {per_second}, NOW(6)) ON DUPLICATE KEY UPDATE submissionsPerSecond = {per_second}")


def open_count(user_id):
    return int(sql(f"SELECT COUNT(*) FROM out_painting_task WHERE userId = {user_id} AND taskStatus NOT IN ('SUCCEEDED','FAILED','CANCELED','UNKNOWN')") or 0)


# MARK: - W2

W2_USERS = 40 if QUICK else 200
# The sweep budget trade-off (a plot for operators): the same site with fewer users, per budget share.
W2_TRADEOFF_USERS = 30 if QUICK else 100
W2_TRADEOFF_SHARES = [0.03, 0.07] if QUICK else [0.03, 0.07, 0.15, 0.30]
# DashScope is not on loopback: every DashScope call of every system waits this long (real time).
DASHSCOPE_LATENCY_MS = 60

EVENT_URL = "http://127.0.0.1:8080/api/outpainting/dashscope-event"  # the token goes in a header (DEVSERVER_EVENT_TOKEN)


def w2_settings(events):
    """DashScope's real limits, k times faster; completion events (EventBridge) delivered or not."""
    k = TIME_SCALE
    return {"create_qps_limit": int(2 * k), "query_qps_limit": int(20 * k), "max_running": 5,
            "latency_ms": int(DASHSCOPE_LATENCY_MS / k), "event_target_url": EVENT_URL if events else None,
            "query_error_429_rate": 0, "query_error_500_rate": 0, "list_error_status": 0}


def scaled_ms(ms):
    return str(max(1, int(ms / TIME_SCALE)))


def w2_scaled_env(events=False, budget_share=None):
    """Our settings, every duration divided by k (the code's defaults, scaled): the configuration a
    site runs, k times faster. With completion events the Poller runs in events mode (the sweep a
    20 s safety net; hinted tasks fetched at once)."""
    k = TIME_SCALE
    env = {
        "POLLER_FIRST_CHECK_MS": scaled_ms(1000), "POLLER_BACKOFF_INITIAL_MS": scaled_ms(1000),
        "POLLER_BACKOFF_CAP_MS": scaled_ms(10000), "POLLER_PENDING_BACKOFF_INITIAL_MS": scaled_ms(5000),
        "POLLER_PENDING_BACKOFF_CAP_MS": scaled_ms(30000), "POLLER_BATCH_WAIT_MS": scaled_ms(50),
        "POLLER_SWEEP_FLOOR_MS": scaled_ms(250), "POLLER_SWEEP_MAX_INTERVAL_MS": scaled_ms(3000),
        "POLLER_PENDING_PASS_MS": scaled_ms(30000), "POLLER_RUNNING_RECHECK_MS": scaled_ms(600000),
        "POLLER_SUSPECT_RECHECK_MS": scaled_ms(30000), "POLLER_CLOCK_SLACK_MS": scaled_ms(5000),
        "POLLER_LIST_RETRY_MS": scaled_ms(1000), "POLLER_LIST_RETRY_CAP_MS": scaled_ms(10000),
        "POLLER_SWEEPER_LEASE_MS": scaled_ms(3000), "POLLER_SWEEPER_ACQUIRE_MS": scaled_ms(1000),
        "POLLER_SWEEP_STALE_MS": scaled_ms(5000), "POLLER_UNSEEN_RECHECK_MS": scaled_ms(120000),
        "LIVE_CHECK_INTERVAL_MS": scaled_ms(15000), "CREATE_THROTTLE_BUDGET_MS": scaled_ms(12000),
        "DASHSCOPE_QUERY_QPS": str(int(20 * k)), "DASHSCOPE_CREATE_QPS": str(int(2 * k)),
        "POLLER_RECONCILE_INTERVAL_S": "15", "POLLER_ORPHAN_UNCLAIMED_S": "10", "POLLER_ORPHAN_STALE_S": "120"}
    if events:
        env["POLLER_SAFETY_SWEEP_S"] = str(max(1, round(20 / k)))
    if budget_share is not None:
        env["POLLER_SWEEP_BUDGET_SHARE"] = str(budget_share)
    return env


def site_load(bench, base_url, first_id, out, users=None):
    k = TIME_SCALE
    users = users or W2_USERS
    sh(bench, "site-load", "--base-url", base_url, "--users", str(users), "--spawn-seconds", str(100 / k * users / W2_USERS),
       "--poll-seconds", str(3 / k), "--median-ms", str(15000 / k), "--p95-ms", str(60000 / k),
       "--deadline-seconds", str(1200 / k), "--first-id", str(first_id), "--out", out, env=STACK_ENV, timeout=3600)
    with open(out) as f:
        return [json.loads(line) for line in f if line.strip()]


def summarize_site(users, stats_before, stats_after):
    k = TIME_SCALE
    created = [u for u in users if u.get("created")]
    delays = [(u["seen_final_epoch"] - u["end_epoch"]) * k for u in created if u.get("end_epoch") and u.get("seen_final_epoch")]
    starts = [u["create_epoch"] for u in users]
    ends = [u["seen_final_epoch"] for u in created if u.get("seen_final_epoch")]
    queries = stats_after["queries"] - stats_before["queries"]
    tasks = max(len(created), 1)
    return {
        "visible_p50_s": percentile(delays, 50), "visible_p99_s": percentile(delays, 99),
        "visible_mean_s": statistics.mean(delays) if delays else float("nan"),
        "queries_per_task": queries / tasks,
        "single_queries_per_task": (stats_after.get("single_queries", 0) - stats_before.get("single_queries", 0)) / tasks,
        "list_queries_per_task": (stats_after.get("list_queries", 0) - stats_before.get("list_queries", 0)) / tasks,
        "throttled": stats_after["throttled"] - stats_before["throttled"],
        "create_throttled": stats_after.get("create_throttled", 0) - stats_before.get("create_throttled", 0),
        "create_failures": len(users) - len(created),
        "unfinished": len(created) - len(ends),
        "wall_s": (max(ends) - min(starts)) * k if ends else float("nan"),
        "users": len(users), "queries": queries, "delays_s": sorted(delays),
    }


def run_site(bench, name, base_url, first_id, users=None):
    before = sim_stats()
    result = site_load(bench, base_url, first_id, os.path.join(RESULTS, f"w2-{name}.jsonl"), users)
    out = summarize_site(result, before, sim_stats())
    say(f"W2 {name}: {json.dumps({k: v for k, v in out.items() if k != 'delays_s'})}")
    return out


def ours_site(bench, name, first_id, users=None, **variant):
    stack_up(w2_scaled_env(**variant))
    sql(f"UPDATE outpainting_query_quota SET accountQPS = {20 * TIME_SCALE}")
    set_submission_pace(2 * TIME_SCALE)  # DashScope's 2 submissions/s, scaled
    sim(**w2_settings(variant.get("events", False)))
    out = run_site(bench, name, NGINX, first_id, users)
    close_open_tasks()
    stack_down()
    return out


def baseline_site(bench, name, first_id, follower):
    """The original design (its responder with live checks, its consumer) or the SDK reference (its
    responder reading the row, the SDK's wait loop per task), behind the same nginx snippet; ours stopped."""
    stack_up(w2_scaled_env())
    stop_component("poller")
    live = follower == "original"
    responder = subprocess.Popen([bench, "baseline-responder", "--listen", os.path.join(RUN_DIR, "baseline.sock")]
                                 + ([] if live else ["--no-live-check"]), cwd=REPO, env=STACK_ENV,
                                 stdout=open(os.path.join(RUN_DIR, "log", f"baseline-responder-{name}.log"), "w"), stderr=subprocess.STDOUT)
    if live:
        command = [bench, "baseline-consumer", "--backoff-initial-ms", str(int(1000 / TIME_SCALE)),
                   "--backoff-cap-ms", str(int(60000 / TIME_SCALE))]
    else:
        command = [bench, "sdk-waiter", "--time-scale", str(TIME_SCALE)]
    consumer = subprocess.Popen(command, cwd=REPO, env=STACK_ENV, stdout=open(os.path.join(RUN_DIR, "log", f"{name}-follower.log"), "w"),
                                stderr=subprocess.STDOUT)
    try:
        wait_until("the baseline responder", 30, lambda: os.path.exists(os.path.join(RUN_DIR, "baseline.sock")))
        sql(f"UPDATE outpainting_query_quota SET accountQPS = {20 * TIME_SCALE}")
        set_submission_pace(2 * TIME_SCALE)
        sim(**w2_settings(False))
        return run_site(bench, name, BASELINE_NGINX, first_id)
    finally:
        stop_processes(responder, consumer)
        close_open_tasks()
        stack_down()


def w2_site(bench):
    say(f"W2: a busy site, {W2_USERS} users, time scale {TIME_SCALE:g}× (DashScope {2 * TIME_SCALE:g} creates/s, "
        f"{20 * TIME_SCALE:g} queries/s, 5 running, {DASHSCOPE_LATENCY_MS} ms per call real time)")
    out = {
        # What a site gets out of the box (no completion events), and with EventBridge events routed.
        "ours": ours_site(bench, "ours", 720000000),
        "ours_events": ours_site(bench, "ours_events", 725000000, events=True),
        "original": baseline_site(bench, "original", 730000000, "original"),
        "sdk": baseline_site(bench, "sdk", 735000000, "sdk"),
    }
    tradeoff = []
    for i, share in enumerate(W2_TRADEOFF_SHARES):
        result = ours_site(bench, f"budget-{share:g}", 740000000 + i * 1_000_000, users=W2_TRADEOFF_USERS, budget_share=share)
        tradeoff.append({"budget_share": share, **{k: v for k, v in result.items() if k != "delays_s"}})
    out["budget_tradeoff"] = {"users": W2_TRADEOFF_USERS, "points": tradeoff}
    out["time_scale"] = TIME_SCALE
    out["dashscope_latency_ms"] = DASHSCOPE_LATENCY_MS
    return out


# MARK: - W6

W6_STEPS = [100, 1000] if QUICK else [100, 1000, 10000, 20000]
W6_WINDOW_S = 20 if QUICK else 60


def w6_detection(user_id, since_epoch):
    """DashScope end → the row's final write (s) for the user's tasks that ended after `since_epoch`."""
    rows = sql(f"""SELECT TIMESTAMPDIFF(MICROSECOND, CONVERT_TZ(endTime, '+08:00', '+00:00'), lastCheckTime) / 1000000
                   FROM out_painting_task WHERE userId = {user_id} AND endTime IS NOT NULL
                     AND taskStatus IN ('SUCCEEDED', 'FAILED')
                     AND CONVERT_TZ(endTime, '+08:00', '+00:00') >= FROM_UNIXTIME({since_epoch})""")
    return sorted(float(v) for v in rows.split() if v not in ("", "NULL"))


def w6_system(bench, system):
    """One system through the steps: top the account's queue up to the step (seeded directly, so
    mostly PENDING), then measure a window."""
    user = 750000001 if system == "ours" else 750000002
    topic = "outpainting-task" if system == "ours" else "outpainting-task-baseline"
    stack_up({"POLLER_ORPHAN_UNCLAIMED_S": "600", "POLLER_QUERY_CONCURRENCY": "16", "POLLER_ROUND_MAX": "1000",
              "KAFKA_GROUP_ID": f"outpainting-poller-w6-{int(time.time())}"})
    sql("UPDATE outpainting_query_quota SET accountQPS = 20, ratePerSecond = configuredRate, ceilingRate = NULL")
    consumer = None
    if system == "original":
        stop_component("poller")
        consumer = subprocess.Popen([bench, "baseline-consumer", "--group", f"outpainting-baseline-w6-{int(time.time())}"], cwd=REPO,
                                    env=STACK_ENV, stdout=open(os.path.join(RUN_DIR, "log", "baseline-consumer-w6.log"), "w"),
                                    stderr=subprocess.STDOUT)
    steps = []
    try:
        for step in W6_STEPS:
            sim(latency_ms=0, create_qps_limit=0, query_qps_limit=20, max_running=50, event_target_url=None, list_error_status=0)
            missing = step - open_count(user)
            if missing > 0:
                sh(bench, "seed", "--count", str(missing), "--topic", topic, "--user-id", str(user),
                   "--min-duration-ms", "10000", "--max-duration-ms", "30000", env=STACK_ENV, timeout=1800)
            sim(latency_ms=DASHSCOPE_LATENCY_MS)
            in_flight = open_count(user)
            before, t0 = sim_stats(), time.time()
            time.sleep(W6_WINDOW_S)  # a fixed measuring window, not a wait for a condition
            after, t1 = sim_stats(), time.time()
            delays = w6_detection(user, t0)
            point = {"step": step, "in_flight": in_flight, "detection_p50_s": percentile(delays, 50), "detection_p99_s": percentile(delays, 99),
                     "finished_in_window": len(delays), "queries_per_s": (after["queries"] - before["queries"]) / (t1 - t0),
                     "throttled": after["throttled"] - before["throttled"],
                     "single_queries": after.get("single_queries", 0) - before.get("single_queries", 0),
                     "list_queries": after.get("list_queries", 0) - before.get("list_queries", 0)}
            say(f"W6 {system} @ {step}: {json.dumps(point)}")
            steps.append(point)
    finally:
        stop_processes(*([consumer] if consumer else []))
        close_open_tasks()
        stack_down()
    return steps


def w6_capacity(bench):
    say(f"W6: how the cost grows with the work — max_running 50, 20 queries/s, tasks of 10–30 s, {W6_STEPS} in flight")
    out = {"ours": w6_system(bench, "ours"), "original": w6_system(bench, "original"), "window_s": W6_WINDOW_S, "steps": W6_STEPS}

    def capacity(points):
        good = [p["step"] for p in points if p["detection_p50_s"] <= 1 and p["throttled"] == 0 and p["finished_in_window"] > 0]
        return max(good) if good else 0

    out["ours_in_flight"], out["original_in_flight"] = capacity(out["ours"]), capacity(out["original"])
    # When the original meets no step, the ratio is a lower bound against the smallest one.
    out["ratio"] = out["ours_in_flight"] / max(out["original_in_flight"], W6_STEPS[0])
    out["ratio_is_lower_bound"] = out["original_in_flight"] == 0
    return out


# MARK: - W5

def w5_memory(bench):
    tasks = 10000 if QUICK else 100000
    say(f"W5: Poller RSS with {tasks} tasks in flight")
    # 50 running at once (a large account), the rest queued, as DashScope would have it.
    sim(latency_ms=0, create_qps_limit=0, query_qps_limit=20, max_running=50, event_target_url=None)
    sql("UPDATE outpainting_query_quota SET accountQPS = 20")
    # Seed with the Poller stopped (its sweeps over a growing account would slow the simulator's
    # list, which sorts every task per page), then let one Poller claim the whole backlog.
    stop_component("poller")
    out = sh(bench, "seed", "--count", str(tasks), "--topic", "outpainting-task", "--user-id", "740000000",
             "--min-duration-ms", "3600000", "--max-duration-ms", "3600000", env=STACK_ENV, timeout=1200)
    say(f"W5: seeded {out.strip()}")
    sh("scripts/stack.sh", "up", env=dict(STACK_ENV, KAFKA_GROUP_ID=f"outpainting-poller-w5-{int(time.time())}",
                                          POLLER_ORPHAN_UNCLAIMED_S="600"), capture=False)
    def followed_all():
        try:  # 503 while the Poller starts
            health = http("GET", POLLER_METRICS + "/healthz")
        except OSError:
            return None
        return health["followed"] if health["followed"] >= tasks else None

    poller = pid("poller")
    peak = [0.0]

    def followed_all_sampling():
        peak[0] = max(peak[0], rss_mb(poller))
        return followed_all()

    followed = wait_until("the Poller to follow every task", 600, followed_all_sampling, every=1)
    # Steady state: right after claiming, a round over 100k due tasks and the claim batches' buffers
    # are still in memory. Settled = two samples 5 s apart within 1 MB of each other.
    samples = [rss_mb(poller)]

    def settled():
        time.sleep(5)
        samples.append(rss_mb(poller))
        peak[0] = max(peak[0], samples[-1])
        return abs(samples[-1] - samples[-2]) < 1.0

    wait_until("the Poller's RSS to settle", 120, settled, every=0)
    rss = samples[-1]
    say(f"W5: {followed} tasks followed, Poller RSS {rss:.1f} MB settled ({len(samples) * 5 - 5} s), {peak[0]:.1f} MB peak")
    return {"rss_mb": rss, "peak_rss_mb": peak[0], "followed": followed}


# MARK: - report

def finite(value):
    """JSON has no NaN: a figure that could not be measured is null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except Exception:
        pass
    with open("/proc/meminfo") as f:
        mem_gb = int(f.readline().split()[1]) / 1024 / 1024
    swift = sh("swift", "--version").splitlines()[0] if shutil.which("swift") else "?"
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem_gb, 1), "kernel": platform.release(),
            "os": platform.platform(), "swift": swift}


def plots(summary):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    site = summary.get("site_load")
    if site:
        fig, ax = plt.subplots(figsize=(7, 4))
        for name, label, color in (("ours", "ours (defaults, no events)", "#2d6cdf"), ("ours_events", "ours with events", "#7fa7ee"),
                                   ("original", "original design", "#c0392b"), ("sdk", "SDK wait loop", "#888888")):
            d = site[name]["delays_s"]
            if d:
                ax.plot(d, [(i + 1) / len(d) for i in range(len(d))], label=f"{label} (p50 {site[name]['visible_p50_s']:.1f} s)", color=color)
        ax.set_xlabel("task end at DashScope → the user's page shows it (s, real time)")
        ax.set_ylabel("fraction of tasks")
        ax.set_xlim(0, 20)
        ax.set_title("W2: user-visible delay")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(RESULTS, "w2-visible-delay.png"), dpi=110)

        fig, ax = plt.subplots(figsize=(7, 3.5))
        names = ["ours", "ours, events", "original", "SDK wait loop"]
        keys = ["ours", "ours_events", "original", "sdk"]
        singles = [site[k]["single_queries_per_task"] for k in keys]
        lists = [site[k]["list_queries_per_task"] for k in keys]
        ax.bar(names, singles, color="#2d6cdf", label="single-task queries")
        bars = ax.bar(names, lists, bottom=singles, color="#9fc0f5", label="list pages")
        ax.bar_label(bars, labels=[f"{site[k]['queries_per_task']:.2f}" for k in keys])
        ax.axhline(1, color="black", lw=0.8, ls="--")
        ax.set_yscale("log")
        ax.set_ylabel("DashScope queries per task (log)")
        ax.set_title("W2: queries per task (1 = the floor)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(RESULTS, "w2-queries-per-task.png"), dpi=110)

        points = site["budget_tradeoff"]["points"]
        fig, ax1 = plt.subplots(figsize=(7, 3.8))
        shares = [100 * p["budget_share"] for p in points]
        ax1.plot(shares, [p["visible_p50_s"] for p in points], "o-", color="#2d6cdf", label="visible delay p50 (s)")
        ax1.plot(shares, [p["visible_p99_s"] for p in points], "o--", color="#2d6cdf", alpha=0.5, label="visible delay p99 (s)")
        ax1.set_xlabel("POLLER_SWEEP_BUDGET_SHARE (% of the account's query rate)")
        ax1.set_ylabel("seconds")
        ax2 = ax1.twinx()
        ax2.plot(shares, [p["queries_per_task"] for p in points], "s-", color="#c0392b", label="queries per task")
        ax2.set_ylabel("queries per task", color="#c0392b")
        ax1.set_title(f"W2 trade-off ({site['budget_tradeoff']['users']} users): the sweep's budget")
        ax1.grid(alpha=0.3)
        lines = ax1.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
        ax1.legend(lines, [l.get_label() for l in lines], loc="upper center", fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(RESULTS, "w2-budget-tradeoff.png"), dpi=110)

    cap = summary.get("capacity")
    if cap:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
        for name, color in (("ours", "#2d6cdf"), ("original", "#c0392b")):
            xs = [p["in_flight"] for p in cap[name]]
            axes[0].plot(xs, [p["detection_p50_s"] for p in cap[name]], "o-", color=color, label=name)
            axes[1].plot(xs, [p["queries_per_s"] for p in cap[name]], "o-", color=color, label=name)
        for ax, title, unit in ((axes[0], "W6: detection p50 (DashScope end → row final)", "s (log)"),
                                (axes[1], "W6: DashScope queries/s", "queries/s")):
            ax.set_xscale("log")
            ax.set_xlabel("tasks in flight (log)")
            ax.set_ylabel(unit)
            ax.set_title(title, fontsize=10)
            ax.grid(alpha=0.3)
            ax.legend()
        axes[0].set_yscale("log")
        axes[0].axhline(1, color="black", lw=0.8, ls="--")
        axes[1].axhline(20, color="black", lw=0.8, ls="--")
        fig.tight_layout()
        fig.savefig(os.path.join(RESULTS, "w6-capacity.png"), dpi=110)

    g = summary.get("get_task")
    if g:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        bars = ax.bar(["get_task (ours)", "minimal C on libfcgi", "static file"], [g["rps"], g["c_rps"], g["static_rps"]],
                      color=["#2d6cdf", "#7f8c8d", "#bbbbbb"])
        ax.bar_label(bars, fmt="%.0f")
        ax.set_title("W3: requests/s through nginx (64 connections)")
        fig.tight_layout()
        fig.savefig(os.path.join(RESULTS, "throughput.png"), dpi=110)
    plt.close("all")


def goal(ok):
    return "met" if ok else "MISSED"


def report(summary):
    s = summary
    site, g, cr, cap = s["site_load"], s["get_task"], s["create_task"], s["capacity"]
    o, e, b, sdk = site["ours"], site["ours_events"], site["original"], site["sdk"]

    def row(name, r):
        return (f"| {name} | {r['visible_p50_s']:.2f} s / {r['visible_p99_s']:.2f} s | {r['queries_per_task']:.2f} "
                f"({r['single_queries_per_task']:.2f} single + {r['list_queries_per_task']:.2f} list) | {r['throttled']} "
                f"({r['create_throttled']} on create) | {r['create_failures']} | {r['unfinished']} | {r['wall_s']:.0f} s |")

    def w6_row(p):
        return (f"| {p['in_flight']} | {p['detection_p50_s']:.2f} s / {p['detection_p99_s']:.2f} s | {p['finished_in_window']} | "
                f"{p['queries_per_s']:.1f} ({p['single_queries']} single, {p['list_queries']} list) | {p['throttled']} |")

    lines = [
        "# Benchmark report", "",
        f"Run {s['finished_at']} on {s['machine']['cores']} cores ({s['machine']['cpu']}), {s['machine']['memory_gb']} GB, "
        f"{s['machine']['os']}, {s['machine']['swift']}, commit `{s.get('commit', '?')}`. Command: `make bench` ({s['total_minutes']:.1f} min).",
        "Everything ran on this one machine through the real local stack (nginx, MariaDB, the Kafka-protocol broker,"
        " the DevServer standing in for DashScope and the login endpoint). The original design and the SDK reference are"
        " reproduced with the same C libraries (bench/tool): only the design differs.", "",
        "## Goals", "",
        "| goal | measured | |", "|---|---|---|",
        f"| W2, our defaults without events: visible p50 ≤ 2.0 s, p99 ≤ 3.8 s, ≤ 8 queries per task, 0 × 429, 0 create failures | "
        f"{o['visible_p50_s']:.2f} s, {o['visible_p99_s']:.2f} s, {o['queries_per_task']:.2f}, {o['throttled']}, {o['create_failures']} | "
        f"{goal(o['visible_p50_s'] <= 2.0 and o['visible_p99_s'] <= 3.8 and o['queries_per_task'] <= 8 and o['throttled'] == 0 and o['create_failures'] == 0)} |",
        f"| W2 with events: ≤ 1.5 queries per task, p50 ≤ 2.0 s | {e['queries_per_task']:.2f}, {e['visible_p50_s']:.2f} s | "
        f"{goal(e['queries_per_task'] <= 1.5 and e['visible_p50_s'] <= 2.0)} |",
        f"| W6: ≥ 20,000 tasks in flight at detection p50 ≤ 1 s, ≥ 100× the original design's | ours {cap['ours_in_flight']}, original "
        f"{cap['original_in_flight']}: {'≥ ' if cap['ratio_is_lower_bound'] else ''}{cap['ratio']:.0f}× | "
        f"{goal(cap['ours_in_flight'] >= 20000 and cap['ratio'] >= 100)} |",
        f"| W3: ≥ 40 % of the static file, ≥ 90 % of the minimal C responder, p99 ≤ 2× the C responder's | "
        f"{100 * g['ratio']:.0f} %, {100 * g['ratio_to_c']:.0f} %, p99 {g['p99_ms']:.2f} ms = {g['p99_to_c']:.2f}× ({g['c_p99_ms']:.2f} ms) | "
        f"{goal(g['ratio'] >= 0.4 and g['ratio_to_c'] >= 0.9 and g['p99_to_c'] <= 2)} |",
        f"| W5: Poller RSS ≤ 100 MB with {s['memory']['followed']} tasks in flight | {s['poller_rss_mb_100k']:.0f} MB settled "
        f"({s['memory'].get('peak_rss_mb', float('nan')):.0f} MB peak) | {goal(s['poller_rss_mb_100k'] <= 100)} |",
        "",
        f"## W2 — a busy site ({o['users']} users, 5 running at DashScope, {site['dashscope_latency_ms']} ms per DashScope call)", "",
        "| system | visible delay p50 / p99 | DashScope queries per task | 429s | create failures | unfinished | wall time |",
        "|---|---|---|---|---|---|---|",
        row("ours, defaults (no completion events)", o), row("ours with EventBridge events", e),
        row("the original design", b), row("the DashScope SDK's wait loop", sdk), "",
        "![W2 user-visible delay](w2-visible-delay.png)", "",
        "![W2 queries per task](w2-queries-per-task.png)", "",
        f"The sweep's budget ({site['budget_tradeoff']['users']} users, otherwise the same site):", "",
        "| POLLER_SWEEP_BUDGET_SHARE | visible p50 / p99 | queries per task | 429s |", "|---|---|---|---|",
        *[f"| {p['budget_share']:g} | {p['visible_p50_s']:.2f} s / {p['visible_p99_s']:.2f} s | {p['queries_per_task']:.2f} | {p['throttled']} |"
          for p in site["budget_tradeoff"]["points"]],
        "", "![W2 budget trade-off](w2-budget-tradeoff.png)", "",
        f"## W6 — how the cost grows with the work (max_running 50, 20 queries/s, tasks of 10–30 s, {cap['window_s']} s windows)", "",
        "Ours:", "", "| in flight | detection p50 / p99 | tasks finished in the window | queries/s | 429s |", "|---|---|---|---|---|",
        *[w6_row(p) for p in cap["ours"]], "",
        "The original design's consumer:", "", "| in flight | detection p50 / p99 | tasks finished in the window | queries/s | 429s |",
        "|---|---|---|---|---|", *[w6_row(p) for p in cap["original"]], "",
        "![W6 capacity](w6-capacity.png)", "",
        "## W3, W4, W5", "",
        f"- W3 get_task: {g['rps']:.0f} req/s, p99 {g['p99_ms']:.2f} ms; the minimal C responder {g['c_rps']:.0f} req/s, p99 {g['c_p99_ms']:.2f} ms; "
        f"the static file {g['static_rps']:.0f} req/s, p99 {g['static_p99_ms']:.2f} ms. Inside FcgiApp's handler {g['handler_mean_ms']:.3f} ms "
        f"of {g['mean_latency_ms_at_64']:.2f} ms per request at 64 connections.",
        f"- W4 create_task: {cr['rps']:.0f} answered/s, {cr['created_per_s']:.0f} created/s, p99 {cr['p99_ms']:.2f} ms "
        f"({cr['connections']} connections; codes `{json.dumps(cr['codes'])}`).",
        f"- W5: {s['memory']['followed']} tasks in flight, Poller RSS {s['poller_rss_mb_100k']:.0f} MB settled.", "",
        "![Throughput](throughput.png)", "",
        "## How each workload ran", "",
        f"- **W2** — {o['users']} users each start one task (log-normal durations, median 15 s, p95 60 s) within 100 s and poll "
        "get_task through nginx every 3 s until it is final, as the host's frontend does; the DevServer enforces 2 creates/s, "
        "5 running tasks (the rest PENDING, started in order) and 20 task queries/s, and answers every DashScope call after "
        f"{site['dashscope_latency_ms']} ms. The whole workload runs **{site['time_scale']:g}× faster than real time**: every "
        f"duration, interval, back-off, lease and rate of every system is divided by {site['time_scale']:g} (DevServer latency "
        f"too) and the delays and wall times are multiplied back (real-time seconds). **ours** is our defaults (no completion "
        "events: what a site gets out of the box); **ours with events** routes DashScope's completion events to the hint "
        "endpoint (`POLLER_SAFETY_SWEEP_S=20`); **the original design** is its responder (get_task queries DashScope live on every "
        "call) and its consumer (5 listeners, one message each, back-off slept on the listener); **the SDK wait loop** follows "
        "each task with the DashScope SDK's schedule (a GET at once, then 1,1,2,2,2,4,4,4,5… s) on one thread per task, on the "
        "same queue, with get_task reading the row. Queries per task count every task query DashScope answered (single and "
        "list) divided by tasks created.",
        "- **W6** — tasks seeded directly (DashScope create, row, message), topped up to each step; at 20,000 in flight, 50 run "
        "and the rest wait. In each window, detection = DashScope's end_time → the row's final write, for the tasks that ended in "
        "the window; queries/s and 429s from the DevServer. A step counts when detection p50 ≤ 1 s with no 429.",
        "- **W3** — wrk, 64 connections, on a finished task with the session cookie; the static file is the same JSON from the "
        "same nginx; the minimal C responder (bench/c-responder, 64 libfcgi threads) returns the same bytes behind the same "
        "snippet. After a 15 s warm-up the three alternate twice, 10 s each: requests/s is a side's mean, p99 its worse run.",
        "- **W4** — wrk, 12 connections, 20 s, distinct pictures and parameters per request; DevServer latency 0, no quota.",
        "- **W5** — 100,000 tasks created (running for an hour) and claimed by one Poller; RSS once it follows all of them and "
        "has settled, and the peak while it claimed them.",
        "",
        *([f"Note: {s['note']}", ""] if s.get("note") else []),
        "## Raw results", "",
        "`summary.json` (every figure), `w2-*.jsonl` (one line per simulated user), this run's log below.",
        "", "```", *LOG, "```", "",
    ]
    with open(os.path.join(RESULTS, "REPORT.md"), "w") as f:
        f.write("\n".join(lines))


def main():
    if "--report-only" in sys.argv:  # regenerate plots and REPORT.md from summary.json
        with open(os.path.join(RESULTS, "summary.json")) as f:
            summary = json.load(f)
        if os.path.exists(os.path.join(RESULTS, "run-log.txt")):
            LOG.extend(open(os.path.join(RESULTS, "run-log.txt")).read().splitlines())
        plots(summary)
        report(summary)
        return
    started = time.time()
    os.makedirs(RESULTS, exist_ok=True)
    say("building the release configuration (what `make install` ships; the stack runs it here)")
    sh("swift", "build", "-c", "release", capture=False)
    bench = os.path.join(bin_path(), "outpainting-bench")
    sh("scripts/stack.sh", "down", check=False)
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    summary = {"machine": machine(), "commit": sh("git", "rev-parse", "--short", "HEAD").strip()}
    def wanted(name):
        return not ONLY or name in ONLY

    try:
        # W3/W4 measure the responder itself: a large account without a submission quota to pace,
        # and no per-user limits (W4 is one user creating as fast as the responder allows).
        stack_up({"DASHSCOPE_CREATE_QPS": "0", "CREATE_USER_IN_PROGRESS": "0", "CREATE_USER_PER_MINUTE": "0",
                  "CREATE_USER_PER_DAY": "0"})
        set_submission_pace(0)
        if wanted("w3"):
            summary["get_task"] = w3_get_task()
        if wanted("w4"):
            summary["create_task"] = w4_create_task()
        close_open_tasks()
        stack_down()
        if wanted("w2"):
            summary["site_load"] = w2_site(bench)
        if wanted("w6"):
            summary["capacity"] = w6_capacity(bench)
        if wanted("w5"):
            stack_up()
            summary["memory"] = w5_memory(bench)
            summary["poller_rss_mb_100k"] = summary["memory"]["rss_mb"]
    finally:
        stack_down()
    if ONLY:
        # A partial run (harness development, or a workload re-run): merged into summary.json.
        path = os.path.join(RESULTS, "summary.json")
        merged = json.load(open(path)) if os.path.exists(path) else {}
        merged.update({k: v for k, v in summary.items() if k != "machine"})
        merged.setdefault("machine", summary["machine"])
        merged.setdefault("reruns", []).append({"workloads": sorted(ONLY), "at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())})
        with open(path, "w") as f:
            json.dump(finite(merged), f, indent=2)
        print(json.dumps(finite({k: v for k, v in summary.items()}), indent=2, default=str))
        return
    summary["finished_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    summary["total_minutes"] = (time.time() - started) / 60
    with open(os.path.join(RESULTS, "summary.json"), "w") as f:
        json.dump(finite(summary), f, indent=2)
    plots(summary)
    report(summary)
    say(f"done in {summary['total_minutes']:.1f} min: bench/results/summary.json, REPORT.md, *.png")


if __name__ == "__main__":
    main()
