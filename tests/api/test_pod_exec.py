"""pods/exec, /attach, /portforward through the API server to a hollow agent: the channel protocols
(v5 and v4), exit codes, stdin and its v5 close, resize, authorization (create on pods/exec; view may not),
Kubernetes' refusals (and the SPDY fallback's answer), the agent's certificate check, and a port-forward
through the SPDY-over-websocket tunnel to a TCP server on the pod's address."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import websocket
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from raftkube.api.audit import AuditLog
from raftkube.api.audit_policy import parse_policy
from raftkube.client import ApiClient
from raftkube.local.store_cluster import free_port
from raftkube.node import spdy
from raftkube.pki import CertificateAuthority
from tests.api.inproc import TOKEN, InProcessAPI, running_api
from tests.node.test_agent_support import (
    POD,
    api,
    api_client,
    namespace,
    pod_body,
    running_agent,
    running_ready,
    unique,
    wait_pod,
)

__all__ = ["api"]  # the module-scoped API server with agent TLS (tests/node/test_agent_support.py)
V5, V4 = "v5.channel.k8s.io", "v4.channel.k8s.io"
TUNNEL = "SPDY/3.1+portforward.k8s.io"
RBAC = "rbac.authorization.k8s.io/v1"


@asynccontextmanager
async def exec_pod(api: InProcessAPI, tmp_path: Path) -> AsyncIterator[tuple[ApiClient, str, Any]]:
    """An agent with a running pod `web`: (client, namespace, agent)."""
    node = unique("exec")
    async with api_client(api) as client, running_agent(client, node, tmp_path, port=free_port(),
                                                        **api.agent_tls) as agent:  # type: ignore[attr-defined]
        ns = await namespace(client)
        await client.create(POD, pod_body("web", node), ns)
        await wait_pod(client, "web", ns, running_ready)
        yield client, ns, agent


def ws_url(api: InProcessAPI, ns: str, sub: str, pod: str = "web", **query: Any) -> str:
    return api.url.replace("http://", "ws://") + f"/api/v1/namespaces/{ns}/pods/{pod}/{sub}?" + urlencode(query,
                                                                                                          doseq=True)


def dial(url: str, protocols: list[str], token: str = TOKEN) -> Any:
    return connect(url, subprotocols=protocols, additional_headers={"Authorization": f"Bearer {token}"},  # type: ignore[arg-type]
                   open_timeout=10)


async def collect(ws: ClientConnection) -> tuple[dict[int, bytes], dict[str, Any]]:
    """Every channel's bytes until the server closes, and the error channel's Status."""
    channels: dict[int, bytes] = {}
    try:
        async for message in ws:
            assert isinstance(message, bytes)
            channels[message[0]] = channels.get(message[0], b"") + message[1:]
    except ConnectionClosed:
        pass
    return channels, json.loads(channels.get(3) or b"{}")


async def test_exec_output_exit_codes_and_protocols(api: InProcessAPI, tmp_path: Path) -> None:
    async with exec_pod(api, tmp_path) as (_, ns, _agent):
        async with dial(ws_url(api, ns, "exec", command=["cat", "/etc/hostname"], stdout="true",
                               stderr="true"), [V5, V4]) as ws:
            assert ws.subprotocol == V5
            channels, status = await collect(ws)
        assert channels[1] == b"web\n" and status == {"metadata": {}, "status": "Success"}
        async with dial(ws_url(api, ns, "exec", command=["sh", "-c", "exit 3"], stdout="1"), [V4]) as ws:
            assert ws.subprotocol == V4
            _, status = await collect(ws)
        assert status["status"] == "Failure" and status["reason"] == "NonZeroExitCode"
        assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
        async with dial(ws_url(api, ns, "exec", command=["nosuch"], stdout="1", stderr="1"), [V5]) as ws:
            channels, _ = await collect(ws)
        assert channels[2] == b"hollow exec: nosuch\n"


async def test_exec_stdin_close_and_resize(api: InProcessAPI, tmp_path: Path) -> None:
    async with exec_pod(api, tmp_path) as (_, ns, _agent):
        async with dial(ws_url(api, ns, "exec", command="cat", stdin="true", stdout="true"), [V5]) as ws:
            await ws.send(b"\x00hello ")
            await ws.send(b"\x00world\n")
            await ws.send(b"\xff\x00")  # v5: close stdin
            channels, status = await collect(ws)
        assert channels[1] == b"hello world\n" and status["status"] == "Success"
        async with dial(ws_url(api, ns, "exec", command=["stty", "size"], stdin="1", stdout="1", tty="true"),
                        [V5]) as ws:
            channels, _ = await collect(ws)
        assert channels[1] == b"24 80\n"  # (the hollow session answers before a resize could arrive)
        async with dial(ws_url(api, ns, "attach", container="app", stdin="1", stdout="1"), [V5]) as ws:
            await ws.send(b"\x00attached\n")
            await ws.send(b"\xff\x00")
            channels, _ = await collect(ws)
        assert channels[1] == b"attached\n"


async def test_exec_refusals(api: InProcessAPI, tmp_path: Path) -> None:
    async with exec_pod(api, tmp_path) as (client, ns, _agent):
        cases = [(ws_url(api, ns, "exec", container="nope", command="ls", stdout="1"), 400,
                  "container nope is not valid for pod web"),
                 (ws_url(api, ns, "exec", stdout="1"), 400, "you must specify at least 1 command"),
                 (ws_url(api, ns, "exec", pod="ghost", command="ls", stdout="1"), 404, 'pods "ghost" not found')]
        for url, code, message in cases:
            with pytest.raises(InvalidStatus) as refused:
                async with dial(url, [V5]):
                    pass
            assert refused.value.response.status_code == code
            assert message in json.loads(refused.value.response.body or b"{}")["message"]
        async with httpx.AsyncClient(base_url=api.url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            # kubectl's SPDY fallback after a refused websocket: the same answer, or a 400 naming websockets
            fallback = await http.post(f"/api/v1/namespaces/{ns}/pods/web/exec",
                                       params={"command": "ls", "stdout": "1"},
                                       headers={"Upgrade": "SPDY/3.1", "Connection": "Upgrade"})
            assert fallback.status_code == 400 and "WebSockets only" in fallback.json()["message"]
            bad = await http.post(f"/api/v1/namespaces/{ns}/pods/web/exec", params={"command": "ls", "container": "x",
                                                                               "stdout": "1"})
            assert bad.status_code == 400 and "container x is not valid" in bad.json()["message"]
            # a pod whose container does not run: the kubelet's plain-text 404, which kubectl prints as
            # `error: unable to upgrade connection: container not found ("app")`
            await client.create(POD, pod_body("idle", "no-such-node"), ns)
            idle = await http.post(f"/api/v1/namespaces/{ns}/pods/idle/exec", params={"command": "ls", "stdout": "1"})
            assert idle.status_code == 404 and idle.text == 'container not found ("app")'
        with pytest.raises(InvalidStatus) as not_running:
            async with dial(ws_url(api, ns, "exec", pod="idle", command="ls", stdout="1"), [V5]):
                pass
        assert not_running.value.response.status_code == 404


async def test_exec_needs_create_on_pods_exec(api: InProcessAPI, tmp_path: Path) -> None:
    viewer, editor = f"viewer-{unique('u')}", f"editor-{unique('u')}"
    view_token = api.add_token(viewer)
    edit_token = api.add_token(editor)
    async with exec_pod(api, tmp_path) as (client, ns, _agent):
        for user, role in ((viewer, "view"), (editor, "edit")):
            await client.create((RBAC, "RoleBinding"), {
                "apiVersion": RBAC, "kind": "RoleBinding", "metadata": {"name": user},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                "subjects": [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}]}, ns)
        url = ws_url(api, ns, "exec", command="hostname", stdout="1")
        for _ in range(100):  # the RBAC index follows the bindings by a watch
            try:
                async with dial(url, [V5], edit_token) as ws:
                    channels, _ = await collect(ws)
                break
            except InvalidStatus:
                await asyncio.sleep(0.05)
        assert channels[1] == b"web\n"
        with pytest.raises(InvalidStatus) as refused:
            async with dial(url, [V5], view_token):
                pass
        status = json.loads(refused.value.response.body or b"{}")
        assert refused.value.response.status_code == 403 and status["reason"] == "Forbidden"
        assert f'User "{viewer}" cannot create resource "pods/exec" in API group ""' in status["message"]
        with pytest.raises(InvalidStatus) as anonymous:
            async with dial(url, [V5], "not-a-token"):
                pass
        assert anonymous.value.response.status_code == 401


async def test_agent_streams_only_for_the_api_server(api: InProcessAPI, tmp_path: Path) -> None:
    async with exec_pod(api, tmp_path) as (_, ns, agent):
        port = agent.config.port
        ca_file = api.agent_tls["client_ca_file"]  # type: ignore[attr-defined]
        other = CertificateAuthority.load(str(Path(ca_file).parent)).issue(str(tmp_path), "n", "system:node:x",
                                                                          ["system:nodes"], client=True)
        context = ssl.create_default_context(cafile=ca_file)
        context.load_cert_chain(other.cert, other.key)  # a cluster certificate, but not the API server's
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"wss://127.0.0.1:{port}/exec/{ns}/web/app?command=ls&stdout=1", ssl=context,
                               subprotocols=[V5], open_timeout=10):  # type: ignore[list-item]
                pass
        assert refused.value.response.status_code == 403


async def echo_server(host: str) -> tuple[asyncio.Server, int]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read(1024)
        writer.write(b"echo:" + data)
        await writer.drain()
        writer.close()
    server = await asyncio.start_server(echo, host, 0)
    return server, server.sockets[0].getsockname()[1]


def _is_ping(frame: spdy.Frame, ping_id: int) -> bool:
    return frame.control and frame.type == spdy.PING and frame.ping_id == ping_id


def tunnel(url: str, token: str, frames_out: list[bytes], reader: spdy.FrameReader,
           ping_id: int | None = None) -> tuple[str, list[spdy.Frame]]:
    """Send SPDY frames through the port-forward websocket (websocket-client: it offers kubectl's non-token
    subprotocol as gorilla does), then read frames until the error stream (1) ends and, with `ping_id`, the
    ping's reply came (the two are independent: either may come first); a silent server times out in 10 s."""
    ws = websocket.create_connection(url, subprotocols=[TUNNEL], header=[f"Authorization: Bearer {token}"], timeout=10)
    try:
        for frame in frames_out:
            ws.send_binary(frame)
        frames: list[spdy.Frame] = []
        def done() -> bool:
            ended = any(f.stream_id == 1 and f.fin and not f.control for f in frames)
            return ended and (ping_id is None or any(_is_ping(f, ping_id) for f in frames))
        while not done():
            frames += reader.feed(ws.recv())
        return ws.getsubprotocol(), frames
    finally:
        ws.close()


async def test_port_forward_through_the_spdy_tunnel(api: InProcessAPI, tmp_path: Path) -> None:
    async with exec_pod(api, tmp_path) as (client, ns, _agent):
        pod_ip = (await client.get(POD, "web", ns))["status"]["podIP"]
        server, port = await echo_server(pod_ip)
        codec = spdy.HeaderCodec()
        headers = {"port": str(port), "requestid": "0"}
        out = [spdy.syn_stream(codec, 1, {**headers, "streamtype": "error"}), spdy.data_frame(1, b"", fin=True),
               spdy.syn_stream(codec, 3, {**headers, "streamtype": "data"}), spdy.data_frame(3, b"ping"), spdy.ping(7)]
        try:
            chosen, frames = await asyncio.to_thread(tunnel, ws_url(api, ns, "portforward"), TOKEN, out,
                                                     spdy.FrameReader(codec), 7)
        finally:
            server.close()
        assert chosen.lower() == TUNNEL.lower()  # (websocket-client lower-cases what it got)
        replies = {f.stream_id for f in frames if f.control and f.type == spdy.SYN_REPLY}
        assert replies == {1, 3}
        assert any(_is_ping(f, 7) for f in frames)
        assert b"".join(f.data for f in frames if not f.control and f.stream_id == 3) == b"echo:ping"
        assert b"".join(f.data for f in frames if not f.control and f.stream_id == 1) == b""  # no error


async def test_port_forward_error_names_the_port(api: InProcessAPI, tmp_path: Path) -> None:
    async with exec_pod(api, tmp_path) as (_, ns, _agent):
        codec = spdy.HeaderCodec()
        closed_port = free_port()
        headers = {"port": str(closed_port), "requestid": "0"}
        out = [spdy.syn_stream(codec, 1, {**headers, "streamtype": "error"}),
               spdy.syn_stream(codec, 3, {**headers, "streamtype": "data"})]
        _, frames = await asyncio.to_thread(tunnel, ws_url(api, ns, "portforward"), TOKEN, out,
                                            spdy.FrameReader(codec))
        error = b"".join(f.data for f in frames if not f.control and f.stream_id == 1).decode()
        assert f"error forwarding port {closed_port} to pod {ns}/web" in error


async def test_view_user_cannot_port_forward(api: InProcessAPI, tmp_path: Path) -> None:
    token = api.add_token("nobody-" + unique("u"))
    async with exec_pod(api, tmp_path) as (_, ns, _agent):
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            await asyncio.to_thread(tunnel, ws_url(api, ns, "portforward"), token, [],
                                    spdy.FrameReader(spdy.HeaderCodec()))
        assert refused.value.status_code == 403
        assert 'cannot create resource "pods/portforward"' in json.loads(refused.value.resp_body or b"{}")["message"]


async def test_port_forward_channel_protocol(api: InProcessAPI, tmp_path: Path) -> None:
    """The Python client's form: v4.channel.k8s.io, `?ports=`; port frames first, data on channel 0."""
    async with exec_pod(api, tmp_path) as (client, ns, _agent):
        pod_ip = (await client.get(POD, "web", ns))["status"]["podIP"]
        server, port = await echo_server(pod_ip)
        try:
            async with dial(ws_url(api, ns, "portforward", ports=str(port)), [V5, V4]) as ws:
                assert ws.subprotocol == V4
                announced = [await asyncio.wait_for(ws.recv(), 10) for _ in range(2)]
                assert announced == [b"\x00" + port.to_bytes(2, "little"), b"\x01" + port.to_bytes(2, "little")]
                await ws.send(b"\x00hello")
                channels, _ = await collect(ws)
        finally:
            server.close()
        assert channels[0] == b"echo:hello" and 1 not in channels
        with pytest.raises(InvalidStatus) as refused:
            async with dial(ws_url(api, ns, "portforward", ports="0"), [V4]):
                pass
        assert refused.value.response.status_code == 400


async def test_refused_streams_are_audited(tmp_path: Path) -> None:
    log = AuditLog(str(tmp_path / "audit.log"), parse_policy("apiVersion: audit.k8s.io/v1\nkind: Policy\n"
                                                              "rules:\n- level: Metadata\n"))
    with running_api(app_options={"audit": log}) as audited:
        stranger = audited.add_token("stranger")
        for token, code in ((TOKEN, 404), (stranger, 403)):
            with pytest.raises(InvalidStatus) as refused:
                async with dial(ws_url(audited, "default", "exec", pod="ghost", command="ls", stdout="1"), [V5],
                                token):
                    pass
            assert refused.value.response.status_code == code
        log.flush()
        events = [json.loads(line) for line in Path(log.path).read_text().splitlines()]
    log.close()
    streams = [e for e in events if (e.get("objectRef") or {}).get("subresource") == "exec"]
    assert [(e["verb"], e["user"]["username"], e["responseStatus"]["code"], e["stage"]) for e in streams] == [
        ("create", "admin", 404, "ResponseComplete"), ("create", "stranger", 403, "ResponseComplete")]
