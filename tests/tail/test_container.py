"""Container logs: CRI and docker json-file unwrapping, partial lines, Kubernetes metadata."""

from __future__ import annotations

import orjson

from logship.core.lines import Lines
from logship.tail.container import ContainerDecoder, kubernetes_fields, runtime_time
from logship.tail.framing import LineFramer


def decode(fmt: str, data: bytes, limit: int = 1 << 20) -> tuple[Lines, ContainerDecoder]:
    decoder = ContainerDecoder(fmt, limit)  # type: ignore[arg-type]
    return decoder.feed(LineFramer(0, 1 << 20).feed(data)), decoder


CRI = (
    b"2026-11-24T10:00:00.123456789Z stdout F hello world\n"
    b"2026-11-24T10:00:01.000000000Z stderr P first part, \n"
    b"2026-11-24T10:00:01.100000000Z stderr P second part, \n"
    b"2026-11-24T10:00:01.200000000Z stderr F last part\n"
    b"2026-11-24T10:00:02Z stdout F \n"
)


def test_cri_lines_are_unwrapped_and_partials_joined() -> None:
    out, decoder = decode("cri", CRI)
    assert out.texts == ["hello world", "first part, second part, last part", ""]
    assert out.streams == ["stdout", "stderr", "stdout"]
    assert out.times == [
        "2026-11-24T10:00:00.123Z",
        "2026-11-24T10:00:01.000Z",
        "2026-11-24T10:00:02.000Z",
    ]
    assert out.starts == [
        0,
        CRI.index(b"2026-11-24T10:00:01.0"),
        CRI.index(b"2026-11-24T10:00:02Z"),
    ]
    assert out.end == len(CRI)
    assert not decoder.pending


def test_a_waiting_partial_holds_the_ack_end_at_its_start() -> None:
    data = CRI[: CRI.index(b"2026-11-24T10:00:01.2")]
    out, decoder = decode("cri", data)
    assert out.texts == ["hello world"]
    assert out.end == CRI.index(b"2026-11-24T10:00:01.0")
    assert decoder.pending
    flushed = decoder.flush()
    assert flushed.texts == ["first part, second part, "]
    assert flushed.end == len(data)


def test_docker_json_lines_are_unwrapped_and_split_lines_joined() -> None:
    lines = [
        {"log": "plain line\n", "stream": "stdout", "time": "2026-11-24T10:00:00.5Z"},
        {"log": "a 16k split ", "stream": "stderr", "time": "2026-11-24T10:00:01Z"},
        {"log": "continues here\r\n", "stream": "stderr", "time": "2026-11-24T10:00:01Z"},
    ]
    data = b"".join(orjson.dumps(x) + b"\n" for x in lines)
    out, _ = decode("docker", data)
    assert out.texts == ["plain line", "a 16k split continues here"]
    assert out.streams == ["stdout", "stderr"]
    assert out.times == ["2026-11-24T10:00:00.500Z", "2026-11-24T10:00:01.000Z"]


def test_auto_tells_the_formats_apart_and_passes_other_lines_through() -> None:
    data = (
        b"2026-11-24T10:00:00Z stdout F from cri\n"
        + orjson.dumps({"log": "from docker\n", "stream": "stdout", "time": "2026-11-24T10:00:00Z"})
        + b"\njust a plain line\n"
    )
    out, _ = decode("auto", data)
    assert out.texts == ["from cri", "from docker", "just a plain line"]
    assert out.times == ["2026-11-24T10:00:00.000Z", "2026-11-24T10:00:00.000Z", ""]


def test_partials_beyond_max_line_bytes_are_cut_and_flagged() -> None:
    data = b"".join(b"2026-11-24T10:00:00Z stdout P " + b"x" * 40 + b"\n" for _ in range(5))
    data += b"2026-11-24T10:00:00Z stdout F end\n"
    out, decoder = decode("cri", data, limit=100)
    assert all(len(t) <= 100 for t in out.texts)
    assert out.truncated
    assert "".join(out.texts) != ""
    assert not decoder.pending or decoder.flush().texts


def test_runtime_times_with_offsets_and_nanoseconds() -> None:
    assert runtime_time("2026-11-24T10:00:00.999999999Z") == "2026-11-24T10:00:00.999Z"
    assert runtime_time("2026-11-24T11:00:00.5+01:00") == "2026-11-24T10:00:00.500Z"
    assert runtime_time("2026-11-24T11:00:00.123456789+01:00") == "2026-11-24T10:00:00.123Z"
    assert runtime_time("yesterday") == ""


def test_kubernetes_metadata_from_the_containers_symlink_name() -> None:
    cid = "a" * 64
    assert kubernetes_fields(f"/var/log/containers/web-7d9f_shop_nginx-{cid}.log") == {
        "kubernetes": {
            "pod": {"name": "web-7d9f"},
            "namespace": "shop",
            "container": {"name": "nginx"},
        },
        "container": {"id": cid},
    }


def test_kubernetes_metadata_from_the_pods_folder_layout() -> None:
    uid = "0f2c1f7e-1111-2222-3333-444455556666"
    assert kubernetes_fields(f"/var/log/pods/shop_web-7d9f_{uid}/nginx/0.log") == {
        "kubernetes": {
            "pod": {"name": "web-7d9f", "uid": uid},
            "namespace": "shop",
            "container": {"name": "nginx"},
        }
    }
    assert kubernetes_fields("/var/log/syslog") is None
