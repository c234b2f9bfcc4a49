import uuid

from openleash.domain.ids import new_id


def test_new_id_is_a_version_4_uuid() -> None:
    ids = {new_id() for _ in range(1000)}
    assert len(ids) == 1000
    for text in list(ids)[:50]:
        parsed = uuid.UUID(text)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == text
