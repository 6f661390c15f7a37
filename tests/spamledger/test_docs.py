from spamledger._docs import README, render


def test_readme_generated_sections_are_up_to_date():
    text = README.read_text()
    assert render(text) == text, "run `python -m spamledger._docs` to regenerate README blocks"


def test_readme_starts_with_what_it_is_and_the_two_commands():
    first_screen = "\n".join(README.read_text().splitlines()[:30])
    assert "make demo" in first_screen and "make test" in first_screen
    assert "phone numbers" in first_screen
