"""The choice of glossary terms for Whisper's prompt, and the echo guard (pure core)."""

from pipeline.asr.terms_prompt import (
    choose_terms,
    echo_mask,
    near,
    rank_terms,
    render,
    source_terms,
    term_costs,
    term_runs,
)
from pipeline.glossary import parse_glossary

GLOSSARY = parse_glossary(
    "en,de\n"
    "Dashwood,\n"
    "Halvorsen,\n"
    "Nordlicht Energy,\n"
    "heat pump,Wärmepumpe\n"
    "grid operator,Netzbetreiber\n"
    "feed-in tariff,Einspeisevergütung\n"
    ",Lenkungsausschuss\n"
)
TERMS = source_terms(GLOSSARY, "en")


def words(text: str) -> int:
    return len(text.split())


def test_source_terms_are_the_source_forms_only():
    assert TERMS == (
        "Dashwood",
        "Halvorsen",
        "Nordlicht Energy",
        "heat pump",
        "grid operator",
        "feed-in tariff",
    )
    assert source_terms(GLOSSARY, "de") == (
        "Wärmepumpe",
        "Netzbetreiber",
        "Einspeisevergütung",
        "Lenkungsausschuss",
    )
    assert source_terms(GLOSSARY, None) == ()
    assert source_terms(None, "en") == ()


def test_render_is_a_plain_list():
    assert render(["Dashwood", "heat pump"]) == "Dashwood, heat pump."
    assert render([]) == ""


def test_a_short_glossary_goes_in_whole_in_its_order():
    costs = term_costs(TERMS, words)
    assert sum(costs.values()) == 10
    assert choose_terms(TERMS, costs, budget=10, partial="nothing like it") == TERMS


def test_nothing_without_budget_or_terms():
    costs = term_costs(TERMS, words)
    assert choose_terms(TERMS, costs, budget=0) == ()
    assert choose_terms((), {}, budget=50) == ()


def test_over_budget_the_likeliest_go_in():
    costs = term_costs(TERMS, words)
    # names first when nothing was heard: Dashwood, Halvorsen, Nordlicht Energy = 4 tokens
    assert choose_terms(TERMS, costs, budget=4) == ("Dashwood", "Halvorsen", "Nordlicht Energy")
    # a term said recently outranks the names
    chosen = choose_terms(TERMS, costs, budget=4, recent="The grid operator sees the load.")
    assert chosen == ("Dashwood", "Halvorsen", "grid operator")
    # a term the partial nearly spells outranks both; the result stays in glossary order
    chosen = choose_terms(
        TERMS, costs, budget=5, recent="the grid operator", partial="a new feeding tariff"
    )
    assert chosen == ("Dashwood", "grid operator", "feed-in tariff")


def test_a_long_term_that_does_not_fit_leaves_room_for_shorter_ones():
    costs = {"a very long name indeed": 5, "short": 1, "tiny": 1}
    assert choose_terms(list(costs), costs, budget=3) == ("short", "tiny")


def test_the_budget_holds_whatever_the_ranking():
    costs = term_costs(TERMS, words)
    for budget in range(11):
        for partial in ("", "Haverson said", "Nordlec Tenergy"):
            chosen = choose_terms(TERMS, costs, budget=budget, partial=partial)
            assert sum(costs[t] for t in chosen) <= budget


def test_near_finds_mishearings_and_not_other_words():
    assert near("Halvorsen", "my colleague Ingrid Haverson".split())
    assert near("Nordlicht Energy", "the committee of Nordlec Tenergy.".split())
    assert near("feed-in tariff", "a new feeding tariff".split())
    assert near("Dashwood", ["Dashwood,"])
    assert not near("Dashwood", "a dishwasher in the kitchen".split())
    assert not near("heat pump", "the weather is cold".split())


def test_rank_orders_partial_recent_names_rest():
    ranked = rank_terms(TERMS, recent="our heat pump", partial="Ingrid Haverson")
    assert ranked == [
        "Halvorsen",
        "heat pump",
        "Dashwood",
        "Nordlicht Energy",
        "grid operator",
        "feed-in tariff",
    ]


def test_term_runs_finds_terms_back_to_back():
    heard = "Dashwood, Halvorsen, Nordlicht Energy. Hello heat pump".split()
    assert term_runs(heard, TERMS) == [(0, 4, 3), (5, 7, 1)]


def test_echo_drops_a_pass_of_nothing_but_prompt_terms_in_doubt():
    assert echo_mask(["Dashwood."], TERMS, no_speech_prob=0.7) == [False]
    assert echo_mask(["Dashwood."], TERMS, no_speech_prob=0.1) == [True]  # said clearly
    assert echo_mask(["Dashwood", "spoke."], TERMS, no_speech_prob=0.9) == [True, True]


def test_echo_drops_the_prompt_list_read_out():
    heard = "Thanks. Dashwood, Halvorsen, heat pump, grid operator. Bye".split()
    assert echo_mask(heard, TERMS, no_speech_prob=0.0) == [True] + [False] * 6 + [True]
    # two terms in a row are ordinary speech
    heard = "the heat pump grid operator".split()
    assert all(echo_mask(heard, TERMS, no_speech_prob=0.0))


def test_echo_without_terms_keeps_everything():
    assert echo_mask(["Dashwood"], (), no_speech_prob=0.99) == [True]
    assert echo_mask([], TERMS, no_speech_prob=0.99) == []
