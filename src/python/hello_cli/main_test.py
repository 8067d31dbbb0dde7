from hello_cli.main import describe_runtime, greeting, main


def test_greeting_uses_humanized_size() -> None:
    assert greeting("ada", 3 * 1024) == "Hello, ada! This greeting weighs 3.0 KiB."


def test_describe_runtime_reports_the_running_interpreter() -> None:
    facts = dict(line.split(": ", 1) for line in describe_runtime())
    assert facts["python"].startswith("CPython 3.")
    assert int(facts["uid"]) >= 0


def test_main_prints_greeting(capsys) -> None:
    assert main(["grace", "--runtime"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Hello, grace! This greeting weighs 5.0 KiB.\n")
    assert "prefix: " in out
