import io
import json

from worker.main import run


def test_processes_jobs_and_reports_bad_ones() -> None:
    jobs = io.StringIO('{"id": "a", "text": "Hi there. Hi!"}\n\nnot json\n{"id": "c"}\n')
    out = io.StringIO()
    assert run([jobs], out) == 1
    results = [json.loads(line) for line in out.getvalue().splitlines()]
    assert results[0] == {
        "id": "a",
        "stats": {
            "words": 3,
            "distinct_words": 2,
            "sentences": 2,
            "mean_word_length": 3.0,
            "most_common": [["hi", 2], ["there", 1]],
        },
    }
    assert results[1]["id"] == 3 and "JSONDecodeError" in results[1]["error"]
    assert "KeyError" in results[2]["error"]


def test_all_good_exits_zero() -> None:
    assert run([io.StringIO('{"text": "ok"}\n')], io.StringIO()) == 0
