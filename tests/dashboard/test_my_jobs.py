"""Who the "My jobs" page is for: the user a trusted header names, or words saying why not."""

from __future__ import annotations

from dashboard.my_jobs import SETTING, explain_link, no_identity, user_of


def test_the_trusted_header_names_the_user_in_any_letter_case() -> None:
    assert user_of({"remote-user": " alice "}, "Remote-User") == "alice"
    assert user_of({"X-Forwarded-User": "bob"}, "x-forwarded-user") == "bob"


def test_no_user_without_a_trusted_header_or_without_its_value() -> None:
    assert user_of({"REMOTE_USER": "alice"}, "") is None  # no header is trusted
    assert user_of({"Host": "x"}, "REMOTE_USER") is None
    assert user_of({"REMOTE_USER": "  "}, "REMOTE_USER") is None


def test_the_page_says_what_to_do_in_each_case() -> None:
    assert SETTING in no_identity("")
    said = no_identity("REMOTE_USER")
    assert "carries no REMOTE_USER header" in said and "proxy" in said


def test_a_pending_job_links_to_its_explanation_on_live_slurm() -> None:
    assert explain_link(42) == "/explain?source=slurm&job=42"
