import pytest

from spamledger import InvalidNumber, normalize, normalize_many


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("+14155550123", None, "+14155550123"),
        ("+1 415-555-0123", "GB", "+14155550123"),
        ("(415) 555-0123", "US", "+14155550123"),
        ("020 7946 0018", "GB", "+442079460018"),
        ("+55 11 91234-5678", None, "+5511912345678"),
        ("098765 43210", "IN", "+919876543210"),
    ],
)
def test_formats_normalize_to_e164(raw, region, e164):
    assert normalize(raw, region).e164 == e164


def test_national_number_without_region_is_not_a_number():
    with pytest.raises(InvalidNumber) as info:
        normalize("4155550123", None)
    assert info.value.reason in {"invalid_country_code", "not_a_number"}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [("", "empty"), ("12", "too_short"), ("hello", "not_a_number"),
     ("+1 415 555 01234567", "too_long"), ("x" * 100, "too_long_input")],
)
def test_bad_numbers_name_the_reason(raw, reason):
    with pytest.raises(InvalidNumber) as info:
        normalize(raw, "US")
    assert info.value.reason == reason


def test_number_type_is_kept():
    assert normalize("+18005550199", None).type == "toll_free"


def test_normalize_many_returns_errors_instead_of_raising():
    out = normalize_many([("(415) 555-0123", "US"), ("12", "US"), ("(415) 555-0123", "US")])
    assert len(out) == 2
    assert isinstance(out[("12", "US")], InvalidNumber)
