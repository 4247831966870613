"""A camera's URLs and copy-ready snippets: the pure builder, `fakecloud camera urls` (by id
and by name) and the `urls` of `/api/cameras/{id}`; the YAML snippets parse."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import yaml

from fakecloud.media.urls import CameraUrls, camera_urls, snippets, stream_key
from fakecloud.store import Store
from tests.conftest import run_cli
from tests.media.test_viewer_e2e import OWNER, Cloud, cloud
from tests.store.conftest import FAST_HASHER

__all__ = ["cloud"]  # the fixture, used by name

MAC = "00:11:22:AA:BB:CC"


def _urls(name: str | None = "Front Porch") -> CameraUrls:
    return camera_urls("192.168.1.5", 8000, 8554, 12345, name)


def test_every_output_is_named_at_the_announce_address() -> None:
    urls = _urls().as_dict()
    assert urls == {
        "snapshot": "http://192.168.1.5:8000/api/cameras/12345/snapshot.jpg",
        "mjpeg": "http://192.168.1.5:8000/api/cameras/12345/stream.mjpeg",
        "hls": "http://192.168.1.5:8000/api/cameras/12345/hls/index.m3u8",
        "llhls": "http://192.168.1.5:8000/api/cameras/12345/hls/ll.m3u8",
        "flv": "http://192.168.1.5:8000/cxs/api/devices/12345/cam/liveStream?type=video/x-flv",
        "rtsp": "rtsp://192.168.1.5:8554/12345",
        "rtsp_by_name": "rtsp://192.168.1.5:8554/Front%20Porch",
        "webrtc": "http://192.168.1.5:8000/api/cameras/12345/webrtc",
    }
    v6 = camera_urls("fd00::5", 80, 554, 7)
    assert v6.rtsp == "rtsp://[fd00::5]:554/7" and v6.rtsp_by_name is None
    assert v6.snapshot.startswith("http://[fd00::5]:80/")


def test_stream_keys_are_safe_names() -> None:
    assert stream_key(12345, "Front Porch!") == "front_porch"
    assert stream_key(12345, None) == stream_key(12345, "…") == "netcam_12345"


def test_yaml_snippets_parse_and_name_the_streams() -> None:
    urls = _urls()
    ready = snippets(urls, "front_porch")
    assert set(ready) == {"go2rtc", "frigate", "home_assistant", "blue_iris", "vlc"}
    assert yaml.safe_load(ready["go2rtc"]) == {"streams": {"front_porch": [urls.rtsp]}}
    frigate = yaml.safe_load(ready["frigate"])
    assert frigate["go2rtc"]["streams"]["front_porch"] == [urls.rtsp]
    (source,) = frigate["cameras"]["front_porch"]["ffmpeg"]["inputs"]
    assert source["path"] == "rtsp://127.0.0.1:8554/front_porch"  # go2rtc's restream
    assert source["input_args"] == "preset-rtsp-restream"
    assistant = yaml.safe_load(ready["home_assistant"])
    assert assistant["generic_camera"]["stream_source"] == urls.rtsp
    assert assistant["generic_camera"]["still_image_url"] == urls.snapshot
    assert assistant["generic_camera_without_rtsp"]["stream_source"] == urls.flv
    assert urls.rtsp in ready["blue_iris"] and urls.rtsp in ready["vlc"]


def _camera(tmp_path: Path) -> int:
    with Store(tmp_path / "fakecloud.sqlite3", hasher=FAST_HASHER) as store:
        store.add_account(OWNER, "secret password")
        return store.upsert_camera(mac=MAC, owner=OWNER, name="Front Porch").id


def test_cli_prints_urls_and_snippets_by_id_and_by_name(tmp_path: Path) -> None:
    camera_id = _camera(tmp_path)
    environment = {"FAKECLOUD_HTTP_PORT": "8080", "FAKECLOUD_RTSP_PORT": "8555"}
    text = run_cli("camera", "urls", str(camera_id), data_dir=tmp_path, **environment).stdout
    assert f"rtsp          rtsp://127.0.0.1:8555/{camera_id}" in text
    assert f"http://127.0.0.1:8080/api/cameras/{camera_id}/hls/ll.m3u8" in text
    assert "# frigate" in text and "preset-rtsp-restream" in text
    assert "rtsp://LOGIN:TOKEN@" in text  # how an untrusted NVR logs in
    by_name = run_cli("camera", "urls", "front porch", "--json", data_dir=tmp_path, **environment)
    record = json.loads(by_name.stdout)
    assert record["id"] == camera_id
    assert record["urls"]["rtsp_by_name"] == "rtsp://127.0.0.1:8555/Front%20Porch"
    assert yaml.safe_load(record["snippets"]["go2rtc"]) == {
        "streams": {"front_porch": [f"rtsp://127.0.0.1:8555/{camera_id}"]}
    }
    unknown = run_cli("camera", "urls", "garage", data_dir=tmp_path)
    assert unknown.returncode == 2 and "no camera 'garage'" in unknown.stderr


async def test_api_lists_the_urls_and_snippets(cloud: Cloud) -> None:
    store = cloud.runtime.services.store
    camera = await store.upsert_camera(mac=MAC, owner=OWNER, name="Front Porch")
    settings = cloud.runtime.settings
    expected = camera_urls(
        "127.0.0.1", settings.http_port, settings.rtsp_port, camera.id, "Front Porch"
    )
    async with httpx.AsyncClient(base_url=cloud.url(""), timeout=10) as client:
        shown = (await client.get(f"/api/cameras/{camera.id}")).json()
        listed = (await client.get("/api/cameras")).json()
    assert shown["urls"] == expected.as_dict()
    assert shown["paths"]["snapshot"] == f"/api/cameras/{camera.id}/snapshot.jpg"
    assert yaml.safe_load(shown["snippets"]["frigate"])["cameras"]["front_porch"]
    assert listed[0]["urls"] == expected.as_dict()
