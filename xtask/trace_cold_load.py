"""A Chromium performance trace of one cold load of /apm (fresh profile), and where the renderer's main
thread spent it until the first hitmap draw with data (User Timing mark `sightline:hitmap-first-data`).
BENCHMARKS.md, issue 16, third pass, was measured with it.

    python3 xtask/trace_cold_load.py http://127.0.0.1:8080 [trace.json]

against a running `sightline serve --demo` (ChromeDriver and Chromium as the browser tests use them). The
trace comes through ChromeDriver's performance log (`goog:loggingPrefs` + `perfLoggingPrefs`), so nothing
but the standard library is needed. The wasm is stripped: the trace names the browser's work (lazy
compilation, JS glue compilation, layout), not the app's functions.
"""
import collections, json, subprocess, sys, tempfile, time, urllib.request

MARK = "sightline:hitmap-first-data"
PORT = 9655
CATEGORIES = "devtools.timeline,disabled-by-default-devtools.timeline,blink.user_timing,v8.execute,v8,v8.wasm,toplevel"


def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    r = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", data=data, method=method, headers={"content-type": "application/json"})
    return json.loads(urllib.request.urlopen(r, timeout=60).read())["value"]


def trace(base):
    driver = subprocess.Popen(["/usr/bin/chromedriver", f"--port={PORT}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while True:
            try:
                call("GET", "/status")
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1400,900",
                f"--user-data-dir={tempfile.mkdtemp()}"]
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:loggingPrefs": {"performance": "ALL"},
                "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args,
                                       "perfLoggingPrefs": {"enableNetwork": False, "enablePage": False, "traceCategories": CATEGORIES}}}}}
        s = call("POST", "/session", caps)["sessionId"]
        try:
            call("POST", f"/session/{s}/url", {"url": base + "/apm"})
            deadline = time.time() + 20
            while not call("POST", f"/session/{s}/execute/sync", {"script": f"return performance.getEntriesByName('{MARK}').length", "args": []}):
                if time.time() > deadline:
                    raise TimeoutError("no first data paint within 20 s")
                time.sleep(0.1)
            paint = call("POST", f"/session/{s}/execute/sync", {"script": f"return performance.getEntriesByName('{MARK}')[0].startTime", "args": []})
            # Leaving the page ends tracing and puts the trace into the log.
            call("POST", f"/session/{s}/url", {"url": "about:blank"})
            events = []
            deadline = time.time() + 10
            while not any(e.get("name") == MARK for e in events) and time.time() < deadline:
                time.sleep(0.5)
                for entry in call("POST", f"/session/{s}/se/log", {"type": "performance"}):
                    m = json.loads(entry["message"])["message"]
                    if m["method"] == "Tracing.dataCollected":
                        events.append(m["params"])
            return paint, events
        finally:
            call("DELETE", f"/session/{s}")
    finally:
        driver.terminate()


def summary(paint, events):
    mark = next(e for e in events if e.get("name") == MARK)
    t0 = mark["ts"] - paint * 1000  # trace clock → ms since navigation start
    main = (mark["pid"], mark["tid"])
    at = lambda e: (e["ts"] - t0) / 1000
    timed = [e for e in events if "dur" in e and (e["pid"], e["tid"]) == main and at(e) <= paint]
    finish = [e for e in timed if e["name"] == "wasm.FinishStreaming"]
    start = at(finish[0]) if finish else 0
    print(f"first data painted at {paint:.0f} ms; wasm compiled (streaming finished) at {start:.0f} ms")
    print(f"main thread from then on, until the paint ({paint - start:.0f} ms):")
    total, count = collections.Counter(), collections.Counter()
    for e in timed:
        if at(e) >= start:
            total[e["name"]] += e["dur"] / 1000
            count[e["name"]] += 1
    for name in ["RunTask", "wasm.CompileLazy", "V8.CompileCode", "FunctionCall", "UpdateLayoutTree", "Layout", "Paint"]:
        print(f"  {name:18} {total[name]:6.0f} ms in {count[name]} events")
    print("  top-level calls into the app over 5 ms (start, ms):",
          [(round(at(e)), round(e["dur"] / 1000)) for e in timed if e["name"] == "FunctionCall" and e["dur"] > 5000 and at(e) >= start])
    print("  hitmap draws started at:", [round(at(e)) for e in events if e.get("name") == "sightline:hitmap-draw-start" and at(e) <= paint])


if __name__ == "__main__":
    paint, events = trace(sys.argv[1].rstrip("/"))
    if len(sys.argv) > 2:
        json.dump({"paint": paint, "events": events}, open(sys.argv[2], "w"))
    summary(paint, events)
