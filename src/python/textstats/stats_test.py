from textstats.stats import text_stats, words


def test_words_are_lowercased_letters_with_apostrophes() -> None:
    assert words("It's 2 o'clock, Ada!") == ["it's", "o'clock", "ada"]


def test_stats() -> None:
    stats = text_stats("The cat sat. The cat ran! A dog")
    assert stats == {
        "words": 8,
        "distinct_words": 6,
        "sentences": 2,
        "mean_word_length": 2.75,
        "most_common": [["the", 2], ["cat", 2], ["sat", 1]],
    }


def test_empty_text() -> None:
    assert text_stats("")["words"] == 0 and text_stats("")["sentences"] == 0
