"""Latency and throughput of the served model, measured from outside over HTTP.

    make bench-serve                                     # models:/rnnops-tweets@champion
    python benchmarks/bench_serve.py models:/rnnops-imdb@champion --requests 500
    python benchmarks/bench_serve.py runs:/<run id>/text_model

Starts the real server (`mlflow models serve --env-manager local`, one uvicorn worker, on
127.0.0.1 and a free port), waits for /ping, then sends `--requests` sequential one-text requests
on one keep-alive connection (after a few unmeasured warm-up requests) and prints p50 / p95 / max
in ms; then posts `--batch` texts `--repeats` times and prints the median texts/s. The tracking
store is $MLFLOW_TRACKING_URI, else ./mlruns/mlflow.db of the working directory. It prints
figures; it asserts nothing. Timings on a shared machine drift: compare runs made side by side.
"""
import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLES = ["the flight was delayed three hours and nobody told us why",
           "great crew, smooth landing, thank you so much", "lost my bag again", "",
           "can you help me change my booking to tomorrow morning?",
           "worst customer service i have ever had, never flying with you again",
           "ok flight, nothing special", "the seats were comfortable and the food was decent"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(uri: str, port: int, tracking_uri: str, log) -> subprocess.Popen:
    # The server runs `uvicorn` from PATH: the venv's bin goes first.
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    cmd = [str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m", uri, "--env-manager",
           "local", "--host", "127.0.0.1", "--port", str(port)]
    # Own process group: stopping it stops uvicorn too. Output to a file: a pipe nobody reads
    # would fill up with access-log lines and block the server.
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def wait_ready(port: int, server: subprocess.Popen, log, timeout: float = 300) -> float:
    """Seconds until /ping answers 200."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if server.poll() is not None:
            log.seek(0)
            sys.exit(f"the server exited ({server.returncode}):\n{log.read().decode()[-3000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/ping")
            if connection.getresponse().status == 200:
                return time.perf_counter() - start
        except OSError:
            pass
        time.sleep(0.5)
    sys.exit(f"/ping did not answer within {timeout:.0f} s")


def post(connection: http.client.HTTPConnection, texts: list[str]) -> float:
    """Seconds for one POST /invocations, response read in full; exits on a non-200 answer."""
    body = json.dumps({"inputs": texts})
    start = time.perf_counter()
    connection.request("POST", "/invocations", body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    payload = response.read()
    elapsed = time.perf_counter() - start
    if response.status != 200:
        sys.exit(f"HTTP {response.status}: {payload[:500]!r}")
    return elapsed


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(port: int, requests: int, batch: int, repeats: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for i in range(5):  # unmeasured: first-call costs (connection, lazy imports)
        post(connection, [SAMPLES[i % len(SAMPLES)]])
    single = [post(connection, [SAMPLES[i % len(SAMPLES)]]) * 1000 for i in range(requests)]
    print(f"one text, {requests} sequential requests: p50 {statistics.median(single):.1f} ms, "
          f"p95 {percentile(single, 0.95):.1f} ms, max {max(single):.1f} ms")
    texts = [f"{SAMPLES[i % len(SAMPLES)]} #{i}" for i in range(batch)]
    post(connection, texts)  # unmeasured
    seconds = [post(connection, texts) for _ in range(repeats)]
    median = statistics.median(seconds)
    print(f"batch of {batch} texts, {repeats} requests: median {median:.3f} s = {batch / median:,.0f} texts/s "
          f"(min {min(seconds):.3f} s, max {max(seconds):.3f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_uri", nargs="?", default="models:/rnnops-tweets@champion")
    parser.add_argument("--requests", type=int, default=200, help="sequential one-text requests")
    parser.add_argument("--batch", type=int, default=1000, help="texts per batch request")
    parser.add_argument("--repeats", type=int, default=5, help="batch requests (median reported)")
    parser.add_argument("--port", type=int, help="default: a free port")
    args = parser.parse_args()
    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlruns' / 'mlflow.db'}"
    port = args.port or free_port()
    with tempfile.TemporaryFile() as log:
        server = start_server(args.model_uri, port, tracking_uri, log)
        try:
            print(f"{args.model_uri} ({tracking_uri}) on 127.0.0.1:{port}: ready after "
                  f"{wait_ready(port, server, log):.1f} s", flush=True)
            measure(port, args.requests, args.batch, args.repeats)
        finally:
            stop_server(server)


if __name__ == "__main__":
    main()
