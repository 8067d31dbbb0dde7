import json
import threading
import urllib.request

from http_api.server import route, serve


def test_routes() -> None:
    assert route("GET", "/healthz", b"")[0] == 200
    status, stats = route("POST", "/stats", b"One fish. Two fish.")
    assert status == 200 and stats["words"] == 4 and stats["most_common"][0] == ["fish", 2]
    assert route("POST", "/stats", b"\xff")[0] == 400
    assert route("GET", "/nope", b"")[0] == 404


def test_json_requests_are_validated_by_pydantic() -> None:
    status, stats = route("POST", "/stats", b'{"text": "a b a c", "top": 1}', "application/json")
    assert status == 200 and stats["most_common"] == [["a", 2]]
    status, error = route("POST", "/stats", b'{"text": "a", "top": 0}', "application/json; charset=utf-8")
    assert status == 422 and list(error["details"][0]["loc"]) == ["top"]
    assert route("POST", "/stats", b'{"top": 2}', "application/json")[0] == 422
    assert route("GET", "/healthz", b"")[1]["pydantic_core"].count(".") == 2


def test_serves_over_http() -> None:
    server = serve(port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with urllib.request.urlopen(urllib.request.Request(f"{url}/stats", data=b"a b a", method="POST")) as r:
            assert json.load(r)["distinct_words"] == 2
        with urllib.request.urlopen(f"{url}/healthz") as r:
            assert json.load(r)["status"] == "ok"
    finally:
        server.shutdown()
