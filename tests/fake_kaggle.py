"""A loopback HTTP server speaking the Kaggle API endpoints the kit's client calls, for end-to-end tests.

The real ``kaggle`` package (2.x, on ``kagglesdk``) POSTs JSON to ``<base>/api/v1/<service>/<Method>``
and PUTs uploaded files to the URL a ``Start...Upload`` call returns. This server records every call
(method, JSON body, whether credentials came) and every uploaded blob, so tests assert what Kaggle would
have received. It answers from small in-memory tables that tests fill (submissions, leaderboard,
the competition record, kernel statuses and outputs) and can be told to fail a method with an HTTP status.
Lists of submissions come in pages of at most ``page_size`` (whatever the client asks for), linked by
``nextPageToken``; the leaderboard download is a zip holding one CSV of every team, as Kaggle's is; a
submission's file is downloaded through a redirect to ``/submission-files/<ref>/<file name>``.

How the client is pointed here (see ``kaggle_env``): ``KAGGLE_API_ENVIRONMENT=LOCALHOST`` selects
``kagglesdk.kaggle_env.KaggleEnv.LOCAL``, whose base URL is the entry of the module's mapping
``_env_to_endpoint`` (``http://localhost``, port 80). Binding port 80 would clash between parallel test
runs, so the test sets that mapping entry to this server's ephemeral port: configuration of the real
client, none of its classes are replaced.
"""
from __future__ import annotations

import base64
import contextlib
import csv
import io
import itertools
import json
import os
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

USERNAME = "kit-tester"
KEY = "0123456789abcdef-secret-key"  # a fake key: tests check it never leaks into output or files
# the key as sent on the wire (HTTP basic auth): must not leak either
SECRETS = (KEY, base64.b64encode(f"{USERNAME}:{KEY}".encode()).decode())


@dataclass
class Call:
    method: str            # e.g. "CreateSubmission", "SaveKernel"
    body: dict             # the JSON request body
    authorized: bool       # basic auth with USERNAME/KEY was sent


@dataclass
class FakeKaggle:
    """Server state: what was received and what to answer."""
    calls: list[Call] = field(default_factory=list)
    blobs: dict[str, bytes] = field(default_factory=dict)            # upload token -> bytes
    blob_names: dict[str, str] = field(default_factory=dict)         # upload token -> file name
    submissions: list[dict] = field(default_factory=list)            # ApiSubmission JSON
    leaderboard: list[dict] = field(default_factory=list)            # teams in rank order: teamId, teamName, score
    submission_files: dict[int, bytes] = field(default_factory=dict)  # submission ref -> the file submitted
    competition: dict = field(default_factory=lambda: {"maxDailySubmissions": 5})  # ApiCompetition JSON
    page_size: int = 20                                              # most submissions one page holds
    kernel_statuses: dict[str, list[str]] = field(default_factory=dict)  # "owner/slug" -> statuses to report
    kernel_outputs: dict[str, dict[str, bytes]] = field(default_factory=dict)  # "owner/slug" -> files
    datasets: dict[str, list[dict]] = field(default_factory=dict)   # "owner/slug" -> versions (request bodies)
    fail: dict[str, int] = field(default_factory=dict)               # method (or "upload") -> HTTP status
    hang: dict[str, float] = field(default_factory=dict)             # method -> seconds its answer is held back
    base_url: str = ""
    _tokens: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def blob(self, token: str) -> bytes:
        return self.blobs[token]

    # -- endpoint handlers: return (status, JSON) --------------------------------------------------
    def handle(self, method: str, body: dict) -> tuple[int, dict]:
        handler = getattr(self, f"_{method}", None)
        if handler is None:
            return 404, {"code": 404, "message": f"fake Kaggle has no method {method}"}
        return handler(body)

    def _new_upload(self, name: str) -> dict:
        token = f"tok{next(self._tokens)}"
        self.blob_names[token] = name
        return {"token": token, "createUrl": f"{self.base_url}/upload/{token}"}

    def _StartSubmissionUpload(self, body: dict) -> tuple[int, dict]:
        return 200, self._new_upload(body["fileName"])

    def _CreateSubmission(self, body: dict) -> tuple[int, dict]:
        token = body["blobFileTokens"]
        if token not in self.blobs:
            return 400, {"code": 400, "message": f"no uploaded file for token {token}"}
        ref = 1000 + len(self.submissions)
        self.submission_files[ref] = self.blobs[token]
        self.submissions.append({
            "ref": ref, "fileName": self.blob_names[token], "description": body.get("submissionDescription"),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z"), "status": "PENDING",
        })
        return 200, {"message": "Successfully submitted", "ref": ref}

    def _ListSubmissions(self, body: dict) -> tuple[int, dict]:
        size = min(body.get("pageSize") or 20, self.page_size)
        start = int(body.get("pageToken") or 0) or (int(body.get("page") or 1) - 1) * size
        newest_first = list(reversed(self.submissions))
        more = start + size < len(newest_first)
        return 200, {"submissions": newest_first[start:start + size],
                     **({"nextPageToken": str(start + size)} if more else {})}

    def _DownloadSubmission(self, body: dict) -> tuple[int, dict]:
        ref = int(body["submissionId"])
        sub = next((s for s in self.submissions if s["ref"] == ref), None)
        if sub is None or ref not in self.submission_files:
            return 404, {"code": 404, "message": f"submission {ref} has no file"}
        return 302, {"location": f"/submission-files/{ref}/{sub['fileName']}"}

    def leaderboard_zip(self, slug: str) -> bytes:
        """Kaggle's download of the public leaderboard: ``<slug>-publicleaderboard.csv`` in a zip."""
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(["Rank", "TeamId", "TeamName", "LastSubmissionDate", "Score", "SubmissionCount",
                         "TeamMemberUserNames"])
        for rank, row in enumerate(self.leaderboard, 1):
            writer.writerow([rank, row["teamId"], row["teamName"], row.get("submissionDate", ""), row["score"],
                             row.get("submissionCount", 1), row.get("members", row["teamName"])])
        data = io.BytesIO()
        with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(f"{slug}-publicleaderboard.csv", text.getvalue())
        return data.getvalue()

    def _GetCompetition(self, body: dict) -> tuple[int, dict]:
        return 200, {"ref": body["competitionName"], **self.competition}

    def _StartBlobUpload(self, body: dict) -> tuple[int, dict]:
        return 200, self._new_upload(body["name"])

    def _SaveKernel(self, body: dict) -> tuple[int, dict]:
        slug = body["slug"]
        self.kernel_statuses.setdefault(slug, ["RUNNING", "COMPLETE"])
        return 200, {"ref": f"/code/{slug}", "url": f"{self.base_url}/code/{slug}", "versionNumber": 1}

    def _GetKernelSessionStatus(self, body: dict) -> tuple[int, dict]:
        slug = f"{body['userName']}/{body['kernelSlug']}"
        statuses = self.kernel_statuses.get(slug)
        if not statuses:
            return 404, {"code": 404, "message": f"kernel {slug} not found"}
        status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
        answer = {"status": status}
        if status == "ERROR":
            answer["failureMessage"] = "script raised an exception"
        return 200, answer

    def _ListKernelSessionOutput(self, body: dict) -> tuple[int, dict]:
        slug = f"{body['userName']}/{body['kernelSlug']}"
        files = self.kernel_outputs.get(slug, {})
        return 200, {"files": [{"fileName": name, "url": f"{self.base_url}/output/{slug}/{name}"}
                               for name in files],
                     "log": f"log of {slug}\n"}

    def _GetDatasetStatus(self, body: dict) -> tuple[int, dict]:
        ref = f"{body['ownerSlug']}/{body['datasetSlug']}"
        if ref not in self.datasets:
            return 404, {"code": 404, "message": f"dataset {ref} not found"}
        return 200, {"status": "READY"}

    def _CreateDataset(self, body: dict) -> tuple[int, dict]:
        ref = f"{body['ownerSlug']}/{body['slug']}"
        self.datasets[ref] = [body]
        return 200, {"ref": ref, "url": f"{self.base_url}/datasets/{ref}", "status": "ok"}

    def _CreateDatasetVersion(self, body: dict) -> tuple[int, dict]:
        ref = f"{body['ownerSlug']}/{body['datasetSlug']}"
        if ref not in self.datasets:
            return 404, {"code": 404, "message": f"dataset {ref} not found"}
        self.datasets[ref].append(body["body"])
        return 200, {"ref": ref, "url": f"{self.base_url}/datasets/{ref}", "status": "ok"}


def _handler_class(state: FakeKaggle) -> type[BaseHTTPRequestHandler]:
    expected_auth = "Basic " + SECRETS[1]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def _send(self, status: int, payload: dict | bytes, content_type: str = "application/json") -> None:
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_POST(self) -> None:
            parts = self.path.strip("/").split("/")
            if parts[:2] != ["api", "v1"] or len(parts) != 4:
                return self._send(404, {"code": 404, "message": f"unknown path {self.path}"})
            method = parts[3]
            body = json.loads(self._body() or b"{}")
            authorized = self.headers.get("Authorization") == expected_auth
            state.calls.append(Call(method, body, authorized))
            if not authorized:
                return self._send(401, {"code": 401, "message": "unauthenticated"})
            if method in state.fail:
                status = state.fail[method]
                return self._send(status, {"code": status, "message": f"injected failure of {method}"})
            if method == "DownloadLeaderboard":
                return self._send(200, state.leaderboard_zip(body["competitionName"]), "application/zip")
            status, answer = state.handle(method, body)
            time.sleep(state.hang.get(method, 0))  # the request took effect; its answer is late (a timeout, a kill)
            if status == 302:
                self.send_response(302)
                self.send_header("Location", state.base_url + answer["location"])
                self.send_header("Content-Length", "0")
                return self.end_headers()
            self._send(status, answer)

        def do_PUT(self) -> None:
            token = self.path.rsplit("/", 1)[-1]
            data = self._body()
            state.calls.append(Call("upload", {"token": token, "size": len(data)}, True))
            if "upload" in state.fail:
                return self._send(state.fail["upload"], b"", "text/plain")
            state.blobs[token] = data
            self._send(200, {})

        def do_GET(self) -> None:
            if self.path.startswith("/submission-files/"):
                ref = int(self.path.split("/")[2])
                if ref in state.submission_files:
                    return self._send(200, state.submission_files[ref], "text/csv")
            prefix = "/output/"
            if self.path.startswith(prefix):
                owner, slug, name = self.path[len(prefix):].split("/", 2)
                files = state.kernel_outputs.get(f"{owner}/{slug}", {})
                if name in files:
                    return self._send(200, files[name], "application/octet-stream")
            self._send(404, {"code": 404, "message": f"unknown path {self.path}"})

    return Handler


@contextlib.contextmanager
def serve() -> Iterator[FakeKaggle]:
    """Run a fake Kaggle on ``127.0.0.1:<ephemeral port>`` in a thread for the duration of the block."""
    state = FakeKaggle()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(state))
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def configure_client(monkeypatch: Any, base_url: str, config_dir: Path, credentials: bool = True) -> None:
    """Point the real client at ``base_url`` with a temporary config dir; no proxy, no user credentials.

    ``credentials=False`` leaves the config dir empty, as on a machine where nobody set Kaggle up.
    """
    from kagglesdk import kaggle_env

    for name in list(os.environ):
        if name.startswith("KAGGLE_") or name.lower() in ("http_proxy", "https_proxy", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "*")
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "LOCALHOST")
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("HOME", str(config_dir / "home"))  # no ~/.kaggle/access_token of the real user
    monkeypatch.setitem(kaggle_env._env_to_endpoint, kaggle_env.KaggleEnv.LOCAL, base_url)
    config_dir.mkdir(parents=True, exist_ok=True)
    # the client keeps resumable-upload state under the temp dir: keep it per test
    (config_dir / "tmp").mkdir(exist_ok=True)
    monkeypatch.setattr(tempfile, "tempdir", str(config_dir / "tmp"))
    if credentials:
        path = config_dir / "kaggle.json"
        path.write_text(json.dumps({"username": USERNAME, "key": KEY}))
        path.chmod(0o600)
