"""Borrower rules without I/O: validation, age, phones, masks, history diffs, lifecycle."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from shared.identity import Caller, Role
from shared.validation import normalize_phone
from user_service.domain import borrower as rules
from user_service.domain.borrower import (
    AccountStatus,
    AddressInput,
    Borrower,
    BorrowerInput,
    EmergencyContactInput,
    EmploymentInput,
    IdentityDocumentInput,
    KycStatus,
    MoneyInput,
)
from user_service.domain.search_keys import (
    fold,
    name_keys,
    phone_keys,
    query_id_key,
    query_phone_keys,
    sounds_like,
)

TODAY = date(2026, 11, 28)
AGENT = Caller(subject="a1", role=Role.AGENT, agent_id="a1")
ADMIN = Caller(subject="boss", role=Role.ADMIN)


def good(**overrides: object) -> BorrowerInput:
    base = BorrowerInput(
        first_name=" José ",
        last_name="Mwangi-Otieno",
        date_of_birth="1990-04-12",
        gender="MALE",
        nationality="ke",
        phone="0712 345 678",
        email="Jose@Example.ORG",
        current_address=AddressInput(line1="12 Moi Avenue", city="Nairobi", country="KE"),
        identity_documents=(
            IdentityDocumentInput(
                type="NATIONAL_ID", number="a 123-456", issue_date="2015-01-10",
                expiry_date="2035-01-10",
            ),
        ),
        employment=EmploymentInput(status="EMPLOYED", monthly_income=MoneyInput(1_000, "kes")),
        emergency_contact=EmergencyContactInput(name="Grace", phone="+254 733 000 111"),
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def violations(inp: BorrowerInput, today: date = TODAY) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as err:
        rules.validate_input(inp, today=today, phone_region="KE")
    return {v.field: v.description for v in err.value.violations}


def test_a_valid_borrower_is_normalised() -> None:
    p = rules.validate_input(good(), today=TODAY, phone_region="KE")
    assert p.first_name == "José"
    assert p.phone == "+254712345678"
    assert p.emergency_contact.phone == "+254733000111"
    assert p.email == "jose@example.org"
    assert p.nationality == "KE"
    assert p.identity_documents[0].number == "A 123-456"
    assert p.identity_keys == ["NATIONAL_ID:A123456"]
    assert p.employment.monthly_income is not None
    assert p.employment.monthly_income.currency == "KES"
    assert p.full_name == "José Mwangi-Otieno"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"first_name": ""}, "first_name"),
        ({"last_name": "Smith3"}, "last_name"),
        ({"middle_name": "--"}, "middle_name"),
        ({"first_name": "x" * 101}, "first_name"),
        ({"date_of_birth": ""}, "date_of_birth"),
        ({"date_of_birth": "1990-02-30"}, "date_of_birth"),
        ({"date_of_birth": "12/04/1990"}, "date_of_birth"),
        ({"date_of_birth": "2030-01-01"}, "date_of_birth"),
        ({"date_of_birth": "1890-01-01"}, "date_of_birth"),
        ({"gender": "UNKNOWN"}, "gender"),
        ({"marital_status": "COMPLICATED"}, "marital_status"),
        ({"nationality": "Kenya"}, "nationality"),
        ({"phone": ""}, "phone"),
        ({"phone": "12345"}, "phone"),
        ({"alternate_phone": "not a phone"}, "alternate_phone"),
        ({"alternate_phone": "+254712345678"}, "alternate_phone"),  # same as phone
        ({"email": "jose@"}, "email"),
        ({"current_address": AddressInput(country="ZZ")}, "current_address.country"),
        ({"permanent_address": AddressInput(city="x" * 101)}, "permanent_address.city"),
        ({"identity_documents": ()}, "identity_documents"),
        (
            {"identity_documents": (IdentityDocumentInput(type="", number="A1234"),)},
            "identity_documents[0].type",
        ),
        (
            {"identity_documents": (IdentityDocumentInput(type="NATIONAL_ID", number=""),)},
            "identity_documents[0].number",
        ),
        (
            {"identity_documents": (IdentityDocumentInput(type="NATIONAL_ID", number="#1!"),)},
            "identity_documents[0].number",
        ),
        (
            {
                "identity_documents": (
                    IdentityDocumentInput(
                        type="PASSPORT", number="P1234", issue_date="2020-01-01",
                        expiry_date="2020-01-01",
                    ),
                )
            },
            "identity_documents[0].expiry_date",
        ),
        (
            {
                "identity_documents": (
                    IdentityDocumentInput(type="PASSPORT", number="P1", issue_date="2027-01-01"),
                )
            },
            "identity_documents[0].issue_date",
        ),
        (
            {
                "identity_documents": (
                    IdentityDocumentInput(type="PASSPORT", number="P1", expiry_date="2020-13-01"),
                )
            },
            "identity_documents[0].expiry_date",
        ),
        (
            {
                "identity_documents": (
                    IdentityDocumentInput(type="NATIONAL_ID", number="A12"),
                    IdentityDocumentInput(type="NATIONAL_ID", number="a-12"),
                )
            },
            "identity_documents[1].number",
        ),
        ({"employment": EmploymentInput(status="BOSS")}, "employment.status"),
        (
            {"employment": EmploymentInput(monthly_income=MoneyInput(-1, "KES"))},
            "employment.monthly_income.amount_minor",
        ),
        (
            {"employment": EmploymentInput(monthly_income=MoneyInput(1, "XYZ"))},
            "employment.monthly_income.currency",
        ),
        (
            {"emergency_contact": EmergencyContactInput(name="Grace")},
            "emergency_contact.phone",
        ),
        (
            {"emergency_contact": EmergencyContactInput(phone="+254733000111")},
            "emergency_contact.name",
        ),
        ({"notes": "x" * 2001}, "notes"),
        # Only YYYY-MM-DD, although Python's fromisoformat reads more.
        ({"date_of_birth": "19900412"}, "date_of_birth"),
        ({"date_of_birth": "1990-W15-4"}, "date_of_birth"),
        (
            {
                "identity_documents": (
                    IdentityDocumentInput(type="PASSPORT", number="P1", issue_date="20200101"),
                )
            },
            "identity_documents[0].issue_date",
        ),
    ],
)
def test_each_bad_field_is_named(change: dict[str, object], field: str) -> None:
    assert field in violations(good(**change))


def test_all_bad_fields_come_back_together() -> None:
    bad = violations(good(first_name="", phone="1", gender="?", nationality="??"))
    assert {"first_name", "phone", "gender", "nationality"} <= set(bad)


def test_age_boundary_is_the_eighteenth_birthday() -> None:
    assert rules.validate_input(good(date_of_birth="2008-11-28"), today=TODAY, phone_region="KE")
    assert "at least 18" in violations(good(date_of_birth="2008-11-29"))["date_of_birth"]
    # Born on 29 February: 18 on 1 March of a common year.
    leap = good(date_of_birth="2008-02-29")
    assert "date_of_birth" in violations(leap, today=date(2026, 2, 28))
    assert rules.validate_input(leap, today=date(2026, 3, 1), phone_region="KE")


@given(
    born=st.dates(min_value=date(1900, 1, 1), max_value=date(2030, 12, 31)),
    today=st.dates(min_value=date(1900, 1, 1), max_value=date(2060, 12, 31)),
)
def test_age_counts_whole_birthdays(born: date, today: date) -> None:
    age = rules.age_on(born, today)
    if today < born:
        assert age < 0
        return
    # Adding `age` years to the birth date lands on or before today; one more lands after.
    def anniversary(years: int) -> date:
        try:
            return born.replace(year=born.year + years)
        except ValueError:  # 29 February in a common year: the day after 28 February
            return date(born.year + years, 3, 1)

    assert anniversary(age) <= today
    if born.year + age + 1 <= 9999:
        assert anniversary(age + 1) > today


# ------------------------------------------------------------------ phones

REGIONS = ["KE", "UG", "TZ", "NG", "GH", "IN", "PH", "US", "GB", "MX"]
FORMATS = [
    phonenumbers.PhoneNumberFormat.E164,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    phonenumbers.PhoneNumberFormat.NATIONAL,
]


@settings(max_examples=150)
@given(region=st.sampled_from(REGIONS), fmt=st.sampled_from(FORMATS), extra=st.integers(0, 9))
def test_phone_normalisation_is_idempotent_and_format_blind(
    region: str, fmt: int, extra: int
) -> None:
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    assert example is not None
    written = phonenumbers.format_number(example, fmt)
    if extra % 3 == 0:
        written = written.replace(" ", "-")
    e164 = normalize_phone(written, "phone", region)
    assert e164 == phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    assert normalize_phone(e164, "phone", region) == e164
    assert normalize_phone(e164, "phone", None) == e164
    # However it was written, the search keys of the query meet the stored number's keys.
    assert set(query_phone_keys(written, region)) & set(phone_keys(e164))


def test_phone_keys_and_queries() -> None:
    assert phone_keys("+254712345678") == ["254712345678", "712345678"]
    for q in ("0712345678", "0712 345 678", "+254 712-345-678", "00254712345678", "712345678"):
        assert "712345678" in query_phone_keys(q, "KE") or "254712345678" in query_phone_keys(
            q, "KE"
        ), q
    assert query_phone_keys("Mohamed", "KE") == []
    assert query_phone_keys("12-34", "KE") == []


# ------------------------------------------------------------------ names


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Mohamed", "Muhammad"),
        ("Mohammed", "Mohamad"),
        ("Jose", "José"),
        ("Catherine", "Katherine"),
        ("Ibrahim", "Ebrahim"),
        ("Philip", "Filip"),
    ],
)
def test_spellings_that_sound_alike_share_a_key(a: str, b: str) -> None:
    assert sounds_like(a) == sounds_like(b)


def test_different_names_keep_different_keys() -> None:
    assert sounds_like("Mohamed") != sounds_like("Mwangi")
    assert sounds_like("Jose") != sounds_like("Joseph")
    assert name_keys(["José María", "Núñez"]) == [sounds_like("jose"), sounds_like("maria"),
                                                 sounds_like("nunez")]


@given(st.text(max_size=30))
def test_fold_is_idempotent_and_ascii(text: str) -> None:
    folded = fold(text)
    assert fold(folded) == folded
    assert folded.isascii()


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzáéíóúñçü", min_size=1, max_size=15))
def test_sounds_like_ignores_case_and_accents(word: str) -> None:
    assert sounds_like(word) == sounds_like(word.upper()) == sounds_like(fold(word))


def test_id_numbers_ignore_punctuation_and_case() -> None:
    assert rules.id_number_key("ab 12-34/5") == "AB12345"
    assert query_id_key("ab 12-34/5") == "AB12345"
    assert query_id_key("Mohamed") == ""  # no digit: a name, not a number


# ------------------------------------------------------------------ updates


def borrower(**overrides: object) -> Borrower:
    profile = rules.validate_input(good(), today=TODAY, phone_region="KE")
    return replace(Borrower(id="b1", profile=profile, assigned_agent_id="a1"), **overrides)  # type: ignore[arg-type]


def test_mask_refuses_managed_and_unknown_fields() -> None:
    with pytest.raises(InvalidArgument):
        rules.check_mask([], AGENT)
    for path in ("kyc_status", "account_status", "assigned_agent_id", "version", "id"):
        with pytest.raises(InvalidArgument) as err:
            rules.check_mask([path], AGENT)
        assert err.value.violations[0].field == "update_mask"
    for path in ("shoe_size", "current_address.planet", "phone.country"):
        with pytest.raises(InvalidArgument):
            rules.check_mask([path], AGENT)
    with pytest.raises(PermissionDenied):
        rules.check_mask(["risk_profile"], AGENT)
    assert rules.check_mask(["risk_profile", "phone", "phone"], ADMIN) == ["risk_profile", "phone"]
    assert rules.check_mask(["employment.monthly_income"], AGENT) == ["employment.monthly_income"]


def test_overlay_takes_only_the_named_paths() -> None:
    current = rules.to_input(borrower())
    given_ = BorrowerInput(
        first_name="Ignored", current_address=AddressInput(city="Mombasa", line1="ignored")
    )
    merged = rules.overlay(current, given_, ["current_address.city"])
    assert merged.first_name == current.first_name
    assert merged.current_address.city == "Mombasa"
    assert merged.current_address.line1 == current.current_address.line1


def test_to_input_round_trips() -> None:
    b = borrower()
    again = rules.validate_input(rules.to_input(b), today=TODAY, phone_region=None)
    assert again == b.profile


def test_diff_names_changed_fields_old_and_new() -> None:
    old = borrower()
    new = replace(old, profile=replace(old.profile, phone="+254700000001"), branch_id="BR-2")
    changes = {c.field: (c.old_value, c.new_value) for c in rules.diff(old, new)}
    assert changes == {"phone": ("+254712345678", "+254700000001"), "branch_id": ("", "BR-2")}
    created = {c.field for c in rules.diff(None, old)}
    assert "first_name" in created
    assert "middle_name" not in created  # empty at creation: not listed
    assert rules.diff(old, old) == ()


# ------------------------------------------------------------------ lifecycle


def test_lifecycle_transitions() -> None:
    b = borrower()
    off = rules.deactivate(b, " moved ")
    assert (off.account_status, off.deactivation_reason) == (AccountStatus.INACTIVE, "moved")
    with pytest.raises(FailedPrecondition):
        rules.deactivate(off, "again")
    with pytest.raises(InvalidArgument):
        rules.deactivate(b, "")
    assert rules.reactivate(off, AGENT).account_status is AccountStatus.ACTIVE
    with pytest.raises(FailedPrecondition):
        rules.reactivate(b, ADMIN)
    black = rules.blacklist(off, "fraud")
    assert black.account_status is AccountStatus.BLACKLISTED
    with pytest.raises(FailedPrecondition):
        rules.blacklist(black, "fraud")
    with pytest.raises(PermissionDenied):
        rules.reactivate(black, AGENT)
    assert rules.reactivate(black, ADMIN).deactivation_reason == ""
    with pytest.raises(FailedPrecondition):
        rules.reassign(b, "a1")
    assert rules.reassign(b, "a2").assigned_agent_id == "a2"


def test_kyc_rules() -> None:
    b = borrower()
    with pytest.raises(PermissionDenied):
        rules.set_kyc_status(b, "VERIFIED", "", AGENT)
    with pytest.raises(InvalidArgument):
        rules.set_kyc_status(b, "", "", ADMIN)
    with pytest.raises(InvalidArgument):
        rules.set_kyc_status(b, "REJECTED", "", ADMIN)
    verified = rules.set_kyc_status(b, "VERIFIED", "seen", ADMIN)
    assert rules.set_kyc_status(verified, "PENDING", "resubmit", AGENT).kyc_status is (
        KycStatus.PENDING
    )
    renamed = rules.apply_profile(verified, replace(verified.profile, last_name="Kamau"))
    assert renamed.kyc_status is KycStatus.PENDING
    noted = rules.apply_profile(verified, replace(verified.profile, notes="sells tea"))
    assert noted.kyc_status is KycStatus.VERIFIED


def test_scope() -> None:
    b = borrower()
    assert rules.visible_to(b, AGENT)
    assert rules.visible_to(b, ADMIN)
    assert not rules.visible_to(b, Caller(subject="a2", role=Role.AGENT, agent_id="a2"))
    assert not rules.visible_to(b, Caller(subject="a3", role=Role.AGENT))


def test_local_numbers_are_read_in_the_borrowers_country_without_a_configured_region() -> None:
    p = rules.validate_input(good(phone="0712 345 678"), today=TODAY, phone_region=None)
    assert p.phone == "+254712345678"
    ugandan = good(
        phone="0772 123456", nationality="UG", current_address=AddressInput(country="UG"),
        emergency_contact=EmergencyContactInput(),
    )
    assert rules.validate_input(ugandan, today=TODAY, phone_region=None).phone == "+256772123456"
    # A configured region wins over the borrower's country.
    assert rules.validate_input(ugandan, today=TODAY, phone_region="KE").phone.startswith("+254")


def test_search_query_shapes() -> None:
    from user_service.adapters.borrower_search import build_query, check_query

    def clauses(q: str) -> list[str]:
        query = build_query(q, agent_id="a1", account_status="ACTIVE", phone_region="KE")
        if "match_none" in query:
            return []
        assert {"term": {"assigned_agent_id": "a1"}} in query["bool"]["filter"]
        return [next(iter(c)) for c in query["bool"]["should"]]

    assert clauses("Mohamed Hassan")[:3] == ["multi_match", "match", "match"]
    assert "terms" not in clauses("Mohamed Hassan")  # not a phone
    assert clauses("0712 345 678") == ["terms", "term"]  # digits only: no name clauses
    assert clauses("A1234567")[-1] == "term"  # letters and digits: names and the ID
    assert clauses("!!") == []
    with pytest.raises(InvalidArgument):
        check_query("   ")
    with pytest.raises(InvalidArgument):
        check_query("x" * 201)


def test_an_income_above_the_business_maximum_is_refused() -> None:
    from shared.money import DEFAULT_MAX_AMOUNT_MINOR

    assert rules.check_money(MoneyInput(DEFAULT_MAX_AMOUNT_MINOR, "KES"), "income").amount_minor
    with pytest.raises(InvalidArgument) as err:
        rules.check_money(MoneyInput(DEFAULT_MAX_AMOUNT_MINOR + 1, "KES"), "income")
    assert [v.field for v in err.value.violations] == ["income.amount_minor"]
