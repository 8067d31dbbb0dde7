import pytest
from pants.engine.fs import DigestEntries, Directory, FileDigest, FileEntry

from pants_oci.digests import first_file_digest

DIGEST = FileDigest("ab" * 32, 3)


def test_the_file_digest_of_a_one_file_digest() -> None:
    assert first_file_digest(DigestEntries([FileEntry("out/image.tar", DIGEST)])) == DIGEST


@pytest.mark.parametrize("entries", [[], [Directory("out")]])
def test_a_digest_without_a_file_first_is_refused(entries) -> None:
    with pytest.raises(ValueError, match="Expected a Digest that holds a file"):
        first_file_digest(DigestEntries(entries))
