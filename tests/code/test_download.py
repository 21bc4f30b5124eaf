"""Downloads: cached once, verified against the pinned hash, never left half-written."""
import hashlib
import http.server
import threading

import pytest

from rnnops.errors import DataError
from rnnops.data.sources.download import fetch

PAYLOAD = b"aclImdb bytes " * 1000


@pytest.fixture
def server():
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)

        def log_message(self, *args):
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/aclImdb_v1.tar.gz", hits
    httpd.shutdown()


def test_download_once_then_cached(server, tmp_path):
    url, hits = server
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    first = fetch(url, tmp_path, "a.tar.gz", sha)
    second = fetch(url, tmp_path, "a.tar.gz", sha)
    assert first == second and first.read_bytes() == PAYLOAD and len(hits) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tar.gz"]


def test_wrong_hash_keeps_nothing(server, tmp_path):
    url, _ = server
    with pytest.raises(DataError, match="expected 0000"):
        fetch(url, tmp_path, "a.tar.gz", "0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_offline_gives_the_data_path_fix(tmp_path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nothing listens there
    with pytest.raises(DataError, match="could not download .*set data.path"):
        fetch(f"http://127.0.0.1:{port}/x.tar.gz", tmp_path, "x.tar.gz", None, timeout=5)
