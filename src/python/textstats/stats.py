"""textstats: a first-party library shared by two services (http_api and worker).

Word and sentence statistics of a text, as a plain dict, so services can return it as JSON.
"""
import re
from collections import Counter
from typing import Dict, List, Union

WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)
SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)")


def words(text: str) -> List[str]:
    return [w.lower() for w in WORD.findall(text)]


def text_stats(text: str, top: int = 3) -> Dict[str, Union[int, float, List[List[Union[str, int]]]]]:
    """Counts of words, distinct words and sentences, mean word length, and the `top` most common words."""
    found = words(text)
    common = Counter(found).most_common(top)
    return {
        "words": len(found),
        "distinct_words": len(set(found)),
        "sentences": len(SENTENCE_END.findall(text)) or (1 if found else 0),
        "mean_word_length": round(sum(map(len, found)) / len(found), 2) if found else 0.0,
        "most_common": [[word, count] for word, count in common],
    }
